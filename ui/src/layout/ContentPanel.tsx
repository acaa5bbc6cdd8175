// The content panel: header of the selected object and its tabs from the registry.
// Tab bodies render inside Suspense, so lazily loaded pages (graphs, consoles) show a
// spinner while their chunk loads; an error boundary keeps one broken tab contained.

import { Bullseye, EmptyState, EmptyStateHeader, Spinner, Tab, Tabs, TabTitleText } from '@patternfly/react-core';
import { Component, Suspense, type ErrorInfo, type ReactNode } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';
import { pageFor, parseObjectId, tabsFor } from '@/registry/registry';
import { KindIcon, StatusDot } from './icons';

class TabBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: undefined as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.warn('tab failed', error, info.componentStack);
  }
  override render() {
    return this.state.error ? <ErrorAlert error={this.state.error} title="This view failed" /> : this.props.children;
  }
}

export function Loading() {
  return (
    <Bullseye>
      <Spinner size="lg" aria-label="Loading" />
    </Bullseye>
  );
}

export function ContentPanel() {
  const { location, navigate } = useNavigation();
  const { byId, loaded } = useResources();
  const session = useSession();
  const obj = parseObjectId(location.id, byId);

  // a node is implied by its guests even when the user may not audit it (see tree.ts)
  const implicit = obj?.kind === 'root' || (obj?.kind === 'node' && loaded);
  if (!obj || (!implicit && !obj.resource && loaded)) {
    return (
      <EmptyState>
        <EmptyStateHeader titleText={loaded ? `No such object: ${location.id}` : 'Loading'} headingLevel="h2" />
      </EmptyState>
    );
  }
  if (!implicit && !obj.resource) return <Loading />;
  const page = pageFor(obj.kind);
  const tabs = tabsFor(obj, session);
  const active = tabs.find((t) => t.id === location.tab) ?? tabs[0];
  const Actions = page?.actions;
  return (
    <div className="pyxis-content" data-testid="content-panel">
      <div className="pyxis-content-head">
        <span className="pyxis-content-icon">
          <KindIcon kind={obj.kind} template={!!obj.resource?.template} />
        </span>
        <h1 className="pyxis-content-title" data-testid="content-title">
          {page ? page.title(obj) : obj.id}
        </h1>
        <StatusDot status={obj.resource?.status} />
        <div className="pyxis-content-actions">{Actions && <Actions obj={obj} />}</div>
      </div>
      <Tabs
        className="pyxis-content-tabs"
        activeKey={active?.id ?? ''}
        onSelect={(_e, key) => navigate(obj.id, String(key))}
        isVertical
        aria-label="Object views"
        mountOnEnter
        unmountOnExit
      >
        {tabs.map((t) => (
          <Tab key={t.id} eventKey={t.id} title={<TabTitleText>{t.title}</TabTitleText>} data-testid={`tab-${t.id}`} />
        ))}
      </Tabs>
      <div className="pyxis-content-body" data-testid={`view-${active?.id ?? 'none'}`}>
        {active && (
          <TabBoundary key={`${obj.id}/${active.id}`}>
            <Suspense fallback={<Loading />}>
              <active.component obj={obj} />
            </Suspense>
          </TabBoundary>
        )}
      </div>
    </div>
  );
}
