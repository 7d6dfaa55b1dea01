/**
 * Re-records the LLM exchanges shipped with `examples/demo.alref` (in `examples/demo.alref.runs/exchanges/`).
 *
 * No real GPT is reachable where this project is built, so the replies below were AUTHORED BY HAND for
 * the demo, by looking at the actual frame grids of the bundled clip (a woman playing ball with a dog
 * on a leash). They follow the prompts' step structure; they are not model output. The script starts
 * the local OpenAI-compatible test server with these replies queued in request order, and runs the
 * demo notebook through the real CLI in `record` mode with one clip at a time (so the order is fixed).
 *
 * Usage (after `npm run build`): `npx tsx test/tooling/recordDemo.ts`. It deletes the old exchanges
 * first (record mode would otherwise answer every request from them).
 * Run it again whenever the prompt templates, the model settings, the grid layout or the demo cells
 * change: recorded exchanges are addressed by a hash of what the request means (prompt text, model
 * settings, and for each image its descriptor: the decoded-frames key of the clip, frame indices,
 * tile layout, boxes and colours), not by the image bytes, so a different ffmpeg build or JPEG
 * encoder does not call for a re-record. The exact images sent are stored beside the exchanges, in
 * `exchanges/images/`.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OpenAiTestServer } from './openaiServer';

const ROOT = path.resolve(__dirname, '../..');

/** Pivot-frame replies, clip by clip; clip 4 has no dog, so it gets a reply without brackets, then [-1] on the re-ask. */
const PIVOT_FRAME_REPLIES: string[] = [
  'Step 1. A woman in a white top and jeans bends towards a brown-and-white dog on a concrete path; she holds a small red ball and the dog, trailing its leash, watches it closely in every frame.\nStep 2. The dog is fully visible in all five frames; in frame 2 it stands side-on, sharp and clear of the woman\'s hands.\n[2]',
  'Step 1. The woman straightens up and lifts the ball; the dog stands on its hind legs, then turns around on the spot with the leash lying next to it.\nStep 2. Frame 1 shows the whole dog upright and still, before motion blur sets in.\n[1]',
  'Step 1. The woman throws the ball down the path; the dog leaps and sprints to the right after it, becoming blurred and leaving the view by frame 5.\nStep 2. In frame 3 the dog is running but its whole body, head to tail, is inside the picture.\n[3]',
  'Step 1. The woman stands alone on the path, arms low, then leans forward as if calling; the dog is out of the picture in all five frames.\nStep 2. The dog does not appear in any of these frames, so there is no frame in which it could be segmented.',
  '[-1]',
  'Step 1. The woman crouches with open arms; the dog comes back into view from the right edge in frame 2 and trots towards her with the ball.\nStep 2. In frame 5 the dog is completely inside the image, side-on, with the ball in its mouth.\n[5]',
  'Step 1. The dog walks towards the woman carrying the ball, dragging the leash; the woman bends down to take it.\nStep 2. Frame 3 shows the dog\'s whole body clearly in the middle of the path.\n[3]',
  'Step 1. The woman bends down to the dog and takes the ball from its mouth, then rises and gets ready to throw again.\nStep 2. Frame 2 has the dog standing still next to the woman, fully visible and sharp.\n[2]',
  'Step 1. The woman holds the ball up; the dog sits, then jumps up and spins while watching the ball.\nStep 2. Frame 1 shows the dog at rest, looking up, with no blur.\n[1]',
  'Step 1. The woman tosses the ball; the dog rears up on its hind legs to catch it and lands again.\nStep 2. Frame 2 shows the dog upright with the ball at its mouth, the whole body visible.\n[2]',
  'Step 1. The dog trots back with the ball along the path, leash trailing; the woman waits with her hands ready.\nStep 2. Frame 5 shows the dog side-on and complete, with the ball in its mouth.\n[5]',
  'Step 1. The dog walks past the woman towards the left, the leash dragging behind; the woman smiles and reaches towards it.\nStep 2. In frame 2 the dog is sharp and entirely visible in the middle of the path.\n[2]',
  'Step 1. The woman bends forward and takes the ball from the dog, which stands in front of her on the leash.\nStep 2. Frame 1 shows the dog facing her, whole and unobstructed.\n[1]',
];

/** Pivot-box replies for the valid clips, in order (clip 4 is invalid and not asked). */
const PIVOT_BOX_REPLIES: string[] = [
  boxReply('a woman bends towards a dog on a path between planted beds; the dog watches the red ball in her hand across the frames', [
    'box 1 (green) holds the whole dog, from its head to its tail',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds only the leash lying on the ground',
  ], 1),
  boxReply('the woman lifts the ball and the dog stands up on its hind legs in front of her', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the whole dog standing up',
    'box 3 (orange) holds the leash on the ground',
  ], 2),
  boxReply('the woman throws the ball and the dog runs after it to the right', [
    'box 1 (green) holds the leash trailing behind the dog',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds the running dog, whole',
  ], 3),
  boxReply('the dog comes back from the right with the ball while the woman crouches', [
    'box 1 (green) holds the whole dog with the ball',
    'box 2 (magenta) holds the woman reaching out',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the dog walks towards the woman carrying the ball', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the leash behind the dog',
    'box 3 (orange) holds the whole dog',
  ], 3),
  boxReply('the woman takes the ball from the dog', [
    'box 1 (green) holds the whole dog in front of the woman',
    'box 2 (magenta) holds the woman bending down',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the woman holds the ball up and the dog waits, then jumps', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the whole dog looking up',
    'box 3 (orange) holds the leash on the ground',
  ], 2),
  boxReply('the dog rears up to catch the tossed ball', [
    'box 1 (green) holds the leash hanging from the dog',
    'box 2 (magenta) holds the dog standing on its hind legs, whole',
    'box 3 (orange) holds the woman',
  ], 2),
  boxReply('the dog trots back along the path with the ball', [
    'box 1 (green) holds the whole dog with the ball in its mouth',
    'box 2 (magenta) holds the woman',
    'box 3 (orange) holds the leash',
  ], 1),
  boxReply('the dog walks past the woman, dragging its leash', [
    'box 1 (green) holds the woman',
    'box 2 (magenta) holds the leash',
    'box 3 (orange) holds the whole dog',
  ], 3),
  boxReply('the woman bends down and takes the ball from the dog', [
    'box 1 (green) holds the woman, whose arm reaches into the dog\'s area',
    'box 2 (magenta) holds the whole dog',
    'box 3 (orange) holds the leash',
  ], 2),
];

function boxReply(scene: string, boxes: string[], answer: number): string {
  return [
    `1. Scene. ${scene[0].toUpperCase()}${scene.slice(1)}.`,
    `2. Boxes. ${boxes.join('; ')}. The boxes do not overlap much; only one of them contains an animal.`,
    '3. Syntax. "the dog playing with the ball": the subject is "dog"; "playing with the ball" only describes what it does. The ball and the woman are not the subject.',
    `4. Choice. Box ${answer} covers the whole dog and little else; the other boxes hold the woman or the leash, so they are rejected.`,
    `5. Answer. [${answer}]`,
  ].join('\n');
}

async function main(): Promise<void> {
  const server = await OpenAiTestServer.start({ apiKey: 'demo-local-key' });
  server.enqueue(...PIVOT_FRAME_REPLIES.map((text) => ({ text, chunkSize: 12, promptTokens: 1450, completionTokens: Math.ceil(text.length / 4) })));
  server.enqueue(...PIVOT_BOX_REPLIES.map((text) => ({ text, chunkSize: 12, promptTokens: 2100, completionTokens: Math.ceil(text.length / 4) })));
  await rm(path.join(ROOT, 'examples/demo.alref.runs/exchanges'), { recursive: true, force: true });
  const out = path.join(os.tmpdir(), 'alref-demo-recorded.alref');
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['dist/cli.js', 'notebook', 'run', 'examples/demo.alref', '--mode', 'record', '--out', out,
        '--set', `llm.baseUrl=${server.baseUrl}`, '--set', 'llm.concurrency=1', '--missing-models', 'skip'],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, OPENAI_API_KEY: 'demo-local-key' } },
    );
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  await server.stop();
  const expected = PIVOT_FRAME_REPLIES.length + PIVOT_BOX_REPLIES.length;
  process.stdout.write(`recorded ${server.requests.length} exchanges (expected ${expected}); CLI exit code ${code}; executed notebook: ${out}\n`);
  if (code !== 0 || server.requests.length !== expected) {
    process.exitCode = 1;
  }
}

void main();
