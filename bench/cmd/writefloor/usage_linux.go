package main

// rusageThread is getrusage's RUSAGE_THREAD: the calling thread alone.
const rusageThread = 1
