// The API layer of the UI: import from '@/api'.
export * from './client';
export * from './types';
export * from './tasks';
export * from './upload';
export * from './permissions';
export * as session from './session';
