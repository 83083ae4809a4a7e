// Bad input data (as opposed to a bug or a network failure): the message names the file, the
// place in it and what is wrong.

export class InputError extends Error {}
