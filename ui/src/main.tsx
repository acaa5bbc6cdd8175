// Entry point: PatternFly's styles, our layout styles, the page registrations, the app.
import '@patternfly/react-core/dist/styles/base.css';
import './styles.css';
import './pages';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
