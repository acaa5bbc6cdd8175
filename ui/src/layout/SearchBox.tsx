// Search across all resources (name, vmid, node, storage, tags, type); '/' focuses it.

import { Menu, MenuContent, MenuItem, MenuList, SearchInput } from '@patternfly/react-core';
import { forwardRef, useMemo, useState } from 'react';
import type { Resource } from '@/api';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { KindIcon, StatusDot } from './icons';
import { guestLabel } from './tree';

const MAX_HITS = 30;

function describe(r: Resource): string {
  switch (r.type) {
    case 'qemu':
    case 'lxc':
      return `${guestLabel(r)} on ${r.node}`;
    case 'storage':
      return `${r.storage} on ${r.node}`;
    case 'node':
      return r.node ?? r.id;
    default:
      return r.pool ?? r.id;
  }
}

export function matchResources(resources: Resource[], query: string): Resource[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  return resources
    .filter((r) => {
      const hay = [r.id, r.name, r.vmid, r.node, r.storage, r.pool, r.tags, r.type, r.status]
        .filter((x) => x !== undefined && x !== null)
        .join(' ')
        .toLowerCase();
      return words.every((w) => hay.includes(w));
    })
    .slice(0, MAX_HITS);
}

export const SearchBox = forwardRef<HTMLInputElement>(function SearchBox(_props, ref) {
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState(false);
  const { resources } = useResources();
  const { navigate } = useNavigation();
  const hits = useMemo(() => matchResources(resources, query), [resources, query]);

  const pick = (r: Resource) => {
    navigate(r.id);
    setQuery('');
    setOpen(false);
  };

  return (
    <div className="pyxis-search" data-testid="search">
      <SearchInput
        ref={ref}
        placeholder="Search (press /)"
        aria-label="Search resources"
        value={query}
        onChange={(_e, v) => {
          setQuery(v);
          setOpen(true);
        }}
        onClear={() => setQuery('')}
        onFocus={() => setOpen(true)}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && hits[0]) pick(hits[0]);
          if (e.key === 'Escape') {
            setOpen(false);
            (e.target as HTMLInputElement).blur();
          }
        }}
      />
      {open && query && (
        <Menu className="pyxis-search-menu" isScrollable>
          <MenuContent maxMenuHeight="60vh">
            <MenuList>
              {hits.length === 0 && <MenuItem isDisabled>No match</MenuItem>}
              {hits.map((r) => (
                <MenuItem key={r.id} icon={<KindIcon kind={r.type} template={!!r.template} />} onClick={() => pick(r)} description={r.type}>
                  {describe(r)} <StatusDot status={r.status} />
                </MenuItem>
              ))}
            </MenuList>
          </MenuContent>
        </Menu>
      )}
    </div>
  );
});
