// Carte developer portal: copy buttons for the cURL examples. No external resource (SPEC §9).
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button.copy') : null;
  if (!button) return;
  const code = document.getElementById(button.getAttribute('data-copy') || '');
  if (!code) return;
  const done = () => {
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code.textContent || '').then(done, () => undefined);
  else {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    try { document.execCommand('copy'); done(); } catch { /* the text stays selected for Ctrl+C */ }
  }
});
