// Parses every message of a corpus (one message per line, segments separated by \r) with
// Medplum's HL7 v2 parser, reading PID-5 and every OBX-5, for `rounds` rounds.
// Prints {"parser", "version", "messages", "values", "seconds"} as JSON.
'use strict';
const fs = require('fs');
const { Hl7Message } = require('@medplum/core');
const path = require('path');
// The package's "exports" hide package.json; read it from the folder node resolved.
const version = JSON.parse(
  fs.readFileSync(path.join(path.dirname(require.resolve('@medplum/core')), '..', '..', 'package.json'), 'utf8'),
).version;

const [file, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText || '1');
const corpus = fs.readFileSync(file, 'latin1').split('\n').filter((line) => line.length > 0);

function work() {
  let values = 0;
  for (const text of corpus) {
    const message = Hl7Message.parse(text);
    const pid = message.getSegment('PID');
    if (pid && pid.getField(5).toString().length > 0) values += 1;
    for (const obx of message.getAllSegments('OBX')) {
      if (obx.getField(5).toString().length > 0) values += 1;
    }
  }
  return values;
}

work(); // warm-up
const started = process.hrtime.bigint();
let values = 0;
for (let round = 0; round < rounds; round += 1) values += work();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ parser: '@medplum/core Hl7Message (used by @medplum/hl7)', version, messages: corpus.length * rounds, values, seconds }));
