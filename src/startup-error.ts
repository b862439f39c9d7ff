// An error at start-up whose message already tells the operator what is wrong and what to do
// (a missing database, a queue bound to another store). It is printed as one line, no stack.
export class StartupError extends Error {}
