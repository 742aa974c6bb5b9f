// Shared console state: the caller's role and the action helpers (set up by app.js).
export const ctx = {
  role: null,
  get canAct() {
    return this.role === 'admin' || this.role === 'operator';
  },
  /** (message, label) → Promise<boolean> */
  confirm: async () => false,
  /** (message, label, call) → Promise<body | undefined>: confirm, call, show the result. */
  act: async () => undefined,
  /** (message, kind) */
  toast: () => undefined,
};
