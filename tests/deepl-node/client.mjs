// The official DeepL client (deepl-node) against verso: node client.mjs SERVER_URL AUTH_KEY.
// Prints one JSON object of what the client saw; mt_api_test.cc checks it.
import * as deepl from 'deepl-node';

const [serverUrl, authKey] = process.argv.slice(2);
const options = { serverUrl, maxRetries: 0, minTimeout: 20000 };
const translator = new deepl.Translator(authKey, options);
const out = {};

const single = await translator.translateText('The weather is nice today.', 'en', 'es');
out.single = {
  text: single.text,
  detectedSourceLang: single.detectedSourceLang,
  billedCharacters: single.billedCharacters,
};
const batch = await translator.translateText(
  ['Hace buen tiempo.', 'Buenos días a todos.'], 'es', 'ca');
out.batch = batch.map((r) => ({ text: r.text, detectedSourceLang: r.detectedSourceLang }));

const usage = await translator.getUsage();
out.usage = { count: usage.character.count, limit: usage.character.limit };
out.sources = (await translator.getSourceLanguages()).map((l) => ({ code: l.code, name: l.name }));
out.targets = (await translator.getTargetLanguages()).map((l) => ({ code: l.code, name: l.name }));

// Errors arrive as the client's own exception classes.
async function errorName(fn) {
  try {
    await fn();
    return 'no error';
  } catch (e) {
    return e.constructor.name;
  }
}
out.badKey = await errorName(() =>
  new deepl.Translator('not-a-verso-key', options).translateText('Hello', 'en', 'es'));
// No source language: detected, or an error when the text says nothing.
const detected = await translator.translateText('The weather is nice today.', null, 'es');
out.detected = detected.detectedSourceLang;
out.noSource = await errorName(() => translator.translateText('??', null, 'es'));

console.log(JSON.stringify(out));
