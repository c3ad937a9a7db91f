// Reads a dotenv file from stdin with npm's dotenv, as `dotenv.config()` would, and prints it as JSON.
import { parse } from 'dotenv';
let text = '';
for await (const chunk of process.stdin) text += chunk;
process.stdout.write(JSON.stringify(parse(text)) + '\n');
