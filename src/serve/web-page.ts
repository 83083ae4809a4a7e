// The web chat page `llava serve` answers at /: pick, drop or paste an image, ask, watch the answer stream in through
// the server's own /v1/chat/completions (server-sent events), set temperature and max tokens, start over. One image
// per conversation, in its first question, as the reference's web UI does; the history is sent with each question.
export const WEB_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>llava-ts chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 860px; margin: 2em auto; padding: 0 1em; color: #222; }
  #drop { border: 2px dashed #999; border-radius: 8px; padding: 1em; text-align: center; cursor: pointer; }
  #drop.over { border-color: #36c; background: #eef4ff; }
  #preview { max-width: 240px; max-height: 240px; display: none; margin: .5em auto 0; }
  #log { margin: 1em 0; }
  .turn { padding: .5em .75em; border-radius: 6px; margin: .4em 0; white-space: pre-wrap; }
  .user { background: #eef; } .assistant { background: #f4f4f4; } .error { background: #fee; color: #900; }
  form { display: flex; gap: .5em; } #question { flex: 1; padding: .4em; }
  .settings { display: flex; gap: 1.5em; margin: .5em 0; align-items: center; }
</style>
</head>
<body>
<h1>llava-ts</h1>
<div id="drop">Drop an image here, paste one, or <u>click to pick</u>
  <input id="file" type="file" accept="image/*" hidden>
  <img id="preview" alt="the image the questions are about">
</div>
<div class="settings">
  <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.2"></label>
  <label>max tokens <input id="max-tokens" type="number" min="1" step="1" value="256"></label>
  <button id="reset" type="button">Start over</button>
  <span id="model"></span>
</div>
<div id="log"></div>
<form id="ask"><input id="question" placeholder="Ask about the image" autocomplete="off"><button id="send">Send</button></form>
<script>
const $ = (id) => document.getElementById(id);
let image = null;       // data: URL of the conversation's image
let messages = [];      // the conversation so far, in the OpenAI shape
let modelId = null;
fetch('/v1/models').then((r) => r.json()).then((j) => { modelId = j.data[0].id; $('model').textContent = modelId; });

function setImage(file) {
  if (!file || !file.type.startsWith('image/')) return;
  const reader = new FileReader();
  reader.onload = () => { image = reader.result; $('preview').src = image; $('preview').style.display = 'block'; messages = []; $('log').textContent = ''; };
  reader.readAsDataURL(file);
}
$('drop').onclick = () => $('file').click();
$('file').onchange = (e) => setImage(e.target.files[0]);
$('drop').ondragover = (e) => { e.preventDefault(); $('drop').classList.add('over'); };
$('drop').ondragleave = () => $('drop').classList.remove('over');
$('drop').ondrop = (e) => { e.preventDefault(); $('drop').classList.remove('over'); setImage(e.dataTransfer.files[0]); };
document.onpaste = (e) => { for (const item of e.clipboardData.items) if (item.type.startsWith('image/')) setImage(item.getAsFile()); };
$('reset').onclick = () => { image = null; messages = []; $('log').textContent = ''; $('preview').style.display = 'none'; $('file').value = ''; };

function turn(cls, text) {
  const div = document.createElement('div');
  div.className = 'turn ' + cls; div.textContent = text; $('log').appendChild(div); return div;
}

$('ask').onsubmit = async (e) => {
  e.preventDefault();
  const question = $('question').value.trim();
  if (!question) return;
  $('question').value = '';
  turn('user', question);
  const content = messages.length === 0 && image
    ? [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: question }]
    : question;
  messages.push({ role: 'user', content });
  const out = turn('assistant', '');
  out.dataset.state = 'streaming';
  $('send').disabled = true;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: modelId, messages, stream: true,
        temperature: Number($('temperature').value), max_tokens: Number($('max-tokens').value) }),
    });
    if (!res.ok) throw new Error((await res.json()).error.message);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const event = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices[0] && chunk.choices[0].delta.content;
        if (delta) out.textContent += delta;
      }
    }
    messages.push({ role: 'assistant', content: out.textContent });
    out.dataset.state = 'done';
  } catch (err) {
    messages.pop();
    out.className = 'turn error'; out.textContent = String(err.message || err); out.dataset.state = 'error';
  } finally {
    $('send').disabled = false;
  }
};
</script>
</body>
</html>
`;
