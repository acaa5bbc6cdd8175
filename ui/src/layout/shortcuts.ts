// Global keyboard shortcuts: one table, used by the handler and the help dialog.

export interface Shortcut {
  keys: string;
  description: string;
}

export const SHORTCUTS: Shortcut[] = [
  { keys: '/', description: 'Focus the resource search' },
  { keys: '?', description: 'Show this help' },
  { keys: 'g d', description: 'Go to the datacenter' },
  { keys: 'g n', description: 'Go to the first node' },
  { keys: 't', description: 'Show or hide the task panel' },
  { keys: 'Shift+D', description: 'Toggle dark/light theme' },
  { keys: '↑ / ↓ / ← / →', description: 'Move in the resource tree (when it has focus)' },
  { keys: 'Esc', description: 'Close a dialog or the search results' },
];

/** Should a keypress be left to the element (typing in a field)? */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  const tag = el.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable || !!el.closest('.xterm, .pyxis-console');
}
