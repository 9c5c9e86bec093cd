// Types of build-browser.mjs, for the TypeScript tests that build the bundles.
export declare const BROWSER_ENTRIES: Readonly<Record<string, string>>
export declare const BASE_CLIENT_BUDGET_BYTES: number
export interface BundleSize {
  readonly name: string
  readonly file: string
  readonly raw: number
  readonly gzip: number
}
export declare function buildBrowserBundles(options: { outdir: string; quiet?: boolean }): Promise<BundleSize[]>
export declare function checkBudget(rows: readonly BundleSize[]): void
