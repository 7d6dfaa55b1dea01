/**
 * Settings that change what the pipeline computes or how it talks to backends. The extension reads
 * them from VS Code configuration (`alref.*`), the CLI from flags and the environment. Every field
 * has a default in {@link defaultSettings}. Those that affect results go into the experiment record.
 */
export interface PipelineSettings {
  /** Path of an ffmpeg binary; empty = ffmpeg on PATH, then the bundled one. */
  ffmpegPath: string;
  /** Path of an ffprobe binary; empty = next to ffmpegPath, on PATH, then the bundled one. */
  ffprobePath: string;
  llm: LlmSettings;
  models: ModelSettings;
}

export interface LlmSettings {
  /** OpenAI-compatible base URL; empty = api.openai.com. Never read from a notebook. */
  baseUrl: string;
  /** Azure OpenAI `api-version`, used when baseUrl is an Azure endpoint; empty = the client's default. */
  azureApiVersion: string;
  /** `live` calls the API, `record` calls and stores every exchange, `replay` only reads stored ones. */
  mode: 'live' | 'record' | 'replay';
  /** Model per stage. */
  models: { pivotFrame: string; pivotBox: string; lbru: string };
  temperature: number | null;
  /** Reply length limit sent as max_tokens / max_completion_tokens; null (default) sends none, as the reference code does. */
  maxTokens: number | null;
  imageDetail: 'low' | 'high' | 'auto';
  timeoutMs: number;
  maxRetries: number;
  concurrency: number;
  /** USD per million tokens, by model id. */
  prices: Record<string, { input: number; output: number }>;
  /** The API key. Only ever in memory: from SecretStorage or OPENAI_API_KEY. */
  apiKey?: string;
}

export interface ModelSettings {
  /** Where downloaded models are cached. */
  cacheDir: string;
  /** Offline/test: a folder that holds model files by manifest id, used instead of downloading. */
  localDir: string;
  executionProvider: 'cpu' | 'cuda';
  threads: number;
  /** A JSON model manifest with user entries (see models/manifest.ts); empty = built-in entries only. */
  manifestFile?: string;
  /** Idle sessions are released after this many seconds (default 300). */
  idleReleaseSec?: number;
  /** GroundingDINO model id (default `grounding-dino-tiny`). */
  detector?: string;
  /** SAM 2 video model id (default `sam2.1-hiera-tiny-video`). */
  segmenter?: string;
  /** Audio tagger model id (default `efficientat-mn10-as`; docs/MODELS.md "Audio taggers (AudioSet, 527 classes)"). */
  audioTagger?: string;
}

export function defaultSettings(overrides: Partial<PipelineSettings> = {}): PipelineSettings {
  const base: PipelineSettings = {
    ffmpegPath: '',
    ffprobePath: '',
    llm: {
      baseUrl: '',
      azureApiVersion: '',
      mode: 'live',
      models: { pivotFrame: 'gpt-4o', pivotBox: 'gpt-4o', lbru: 'gpt-4o' },
      temperature: null,
      maxTokens: null,
      imageDetail: 'high',
      timeoutMs: 120_000,
      maxRetries: 4,
      concurrency: 4,
      prices: {},
    },
    models: { cacheDir: '', localDir: '', executionProvider: 'cpu', threads: 0, manifestFile: '', idleReleaseSec: 300, detector: '', segmenter: '', audioTagger: '' },
  };
  return { ...base, ...overrides, llm: { ...base.llm, ...overrides.llm }, models: { ...base.models, ...overrides.models } };
}
