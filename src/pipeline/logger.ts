/**
 * Where pipeline code reports diagnostics: the VS Code output channel, or stderr in the CLI. Kept
 * apart from types.ts so that services (services.ts, llm/service.ts) can name it without importing
 * the stage contract that is built on them.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
