// The top bar: product name, search, help, and the user menu (theme, logout).

import { Button, Divider, Dropdown, DropdownItem, DropdownList, MenuToggle } from '@patternfly/react-core';
import { MoonIcon, QuestionCircleIcon, SunIcon, UserIcon } from '@patternfly/react-icons';
import { forwardRef, useState } from 'react';
import { useSession } from '@/hooks/session';
import type { Theme } from '@/hooks/theme';
import { SearchBox } from './SearchBox';
import { CreateGuestButtons } from '@/pages/guest/CreateButtons';

interface TopBarProps {
  theme: Theme;
  toggleTheme: () => void;
  openHelp: () => void;
}

export const TopBar = forwardRef<HTMLInputElement, TopBarProps>(function TopBar(p, searchRef) {
  const { session, logout } = useSession();
  const [open, setOpen] = useState(false);
  return (
    <header className="pyxis-topbar">
      <a className="pyxis-brand" href="#/root">
        Pyxis <span className="pyxis-brand-sub">Virtual Environment</span>
      </a>
      <SearchBox ref={searchRef} />
      <div className="pyxis-topbar-right">
        <CreateGuestButtons />
        {session.clustername && <span className="pyxis-cluster">cluster {session.clustername}</span>}
        <Button variant="plain" aria-label="Keyboard shortcuts" onClick={p.openHelp}>
          <QuestionCircleIcon />
        </Button>
        <Dropdown
          isOpen={open}
          onOpenChange={setOpen}
          onSelect={() => setOpen(false)}
          popperProps={{ position: 'right' }}
          toggle={(ref) => (
            <MenuToggle ref={ref} onClick={() => setOpen(!open)} isExpanded={open} icon={<UserIcon />} data-testid="user-menu">
              {session.username}
            </MenuToggle>
          )}
        >
          <DropdownList>
            <DropdownItem key="theme" icon={p.theme === 'dark' ? <SunIcon /> : <MoonIcon />} onClick={p.toggleTheme} data-testid="theme-toggle">
              {p.theme === 'dark' ? 'Light theme' : 'Dark theme'}
            </DropdownItem>
            <DropdownItem key="help" onClick={p.openHelp}>
              Keyboard shortcuts
            </DropdownItem>
            <Divider component="li" key="sep" />
            <DropdownItem key="logout" onClick={logout} data-testid="logout">
              Logout
            </DropdownItem>
          </DropdownList>
        </Dropdown>
      </div>
    </header>
  );
});
