/**
 * Long-lived backends a stage may use, created lazily and shared across cells and notebooks.
 * Each field is owned by the subsystem named in its type; a missing service is a clear error
 * from the stage that needs it.
 */
export interface Services {
  /** LLM access with record/replay (llm/). */
  llm?: import('./llm/service').LlmService;
  /** ONNX model store and session pool (models/). */
  models?: import('./models/service').ModelService;
}
