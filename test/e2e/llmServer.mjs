// The local OpenAI-compatible test server (test/tooling/openaiServer.ts) as its own process, for the
// UI test's record-mode run (./recordRun.mjs starts it with `node --import tsx` and stops it by PID).
// Listens on 127.0.0.1 only. Prints one JSON line `{"baseUrl": ...}` once it listens, then one line
// `{"request": n, "images": k}` per chat request. The key it accepts comes from ALREF_TEST_LLM_KEY.
// Replies stream slowly (many small chunks), so the traces grow while the cell runs.
import { OpenAiTestServer } from '../tooling/openaiServer.ts';

const server = await OpenAiTestServer.start({ apiKey: process.env.ALREF_TEST_LLM_KEY || undefined });
server.setScript((request) => {
  console.log(JSON.stringify({ request: server.requests.length, images: request.imageCount }));
  return {
    text: 'The blocks are stacked in the middle of the table.\nThey are clearest in frame 3.\n[3]',
    chunkSize: 5,
    chunkDelayMs: 40,
    reportModel: 'gpt-4o-ui-record-local',
  };
});
const stop = () => {
  void server.stop().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
console.log(JSON.stringify({ baseUrl: server.baseUrl }));
