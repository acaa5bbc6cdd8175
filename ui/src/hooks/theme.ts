// Dark/light theme: PatternFly's dark theme is the class pf-v5-theme-dark on <html>.

import { useCallback, useState } from 'react';

export type Theme = 'light' | 'dark';
const KEY = 'pyxis.theme';

export function currentTheme(): Theme {
  return document.documentElement.classList.contains('pf-v5-theme-dark') ? 'dark' : 'light';
}

export function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle('pf-v5-theme-dark', theme === 'dark');
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    /* private mode */
  }
  window.dispatchEvent(new Event('pyxis-theme'));
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  const toggle = useCallback(() => {
    const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
    applyTheme(next);
    setTheme(next);
  }, []);
  return [theme, toggle];
}
