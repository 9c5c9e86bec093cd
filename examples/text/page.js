// The page: one Yjs document of the `docs` collection, bound to the textarea. Plain browser JavaScript; the
// client and Yjs come from the region's bundles (/bundle/), the region list from the todo example.
//
// Client API used (docs/client.md): createClient({ urls, use: [yjsSupport] }); client.yjs('docs').open(id)
// gives the document's Y.Doc, synced while open; the rest is plain Yjs.

import { chooseRegion, loadRegions, regionPicker } from '../todo/regions.js'
import { showSyncState } from '../todo/status.js'
import { bindTextarea } from './textarea.js'

const $ = (sel) => document.querySelector(sel)

async function main() {
  const [{ createClient }, { yjsSupport }] = await Promise.all([import('/bundle/meridian-client.js'), import('/bundle/meridian-yjs.js')])
  const regions = await loadRegions()
  const { chosen, urls } = chooseRegion(regions)
  regionPicker($('#region'), regions, chosen)

  const client = createClient({ urls, use: [yjsSupport] })
  window.meridianClient = client // for the console
  showSyncState(client, $('#status'), $('#unsynced'))

  const docId = new URLSearchParams(location.search).get('doc') || 'welcome'
  $('#doc-id').textContent = docId
  const { doc } = client.yjs('docs').open(docId)

  const editor = $('#editor')
  bindTextarea(doc.getText('text'), {
    get value() { return editor.value },
    set value(v) { editor.value = v },
    get selectionStart() { return editor.selectionStart },
    set selectionStart(v) { editor.selectionStart = v },
    get selectionEnd() { return editor.selectionEnd },
    set selectionEnd(v) { editor.selectionEnd = v },
    onInput(fn) {
      editor.addEventListener('input', fn)
      return () => editor.removeEventListener('input', fn)
    },
  })
}

main().catch((err) => {
  console.error(err)
  document.body.prepend(Object.assign(document.createElement('pre'), { textContent: `The example failed to start: ${err?.message ?? err}` }))
})
