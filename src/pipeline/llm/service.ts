/** LLM access used by the stages. Filled in by the LLM subsystem (issue #3). */
export interface LlmService {
  readonly kind: 'llm';
}
