// Console settings, kept in this browser's localStorage.
import { h } from './ui.js';

const KEY = 'switchyard.console.settings';
const stored = (() => {
  try {
    return JSON.parse(localStorage.getItem(KEY) || '{}');
  } catch {
    return {};
  }
})();

export const settings = {
  /** e.g. http://localhost:16686/search?tags=%7B%22task_id%22%3A%22{taskId}%22%7D or .../trace/{traceId} */
  traceUrlTemplate: stored.traceUrlTemplate || '',
};

export function render() {
  const input = h('input', {
    id: 'trace-template',
    type: 'url',
    value: settings.traceUrlTemplate,
    placeholder: 'http://localhost:16686/search?service=switchyard&tags={"task_id":"{taskId}"}',
  });
  const saved = h('p', { role: 'status', class: 'muted' });
  const form = h(
    'form',
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        settings.traceUrlTemplate = input.value.trim();
        localStorage.setItem(KEY, JSON.stringify(settings));
        saved.textContent = 'Saved.';
      },
    },
    h('label', { for: 'trace-template' }, 'Trace URL template'),
    input,
    h(
      'p',
      { class: 'muted small' },
      'Placeholders: {taskId}, {workflowId}, {traceId}. Task pages link to it (http/https only).',
    ),
    h('button', { type: 'submit' }, 'Save'),
    saved,
  );
  return { el: h('section', { id: 'settings' }, h('h2', {}, 'Settings'), form) };
}
