// A small in-process job queue (used by dead-consumer-queue.mjs).
//
// Producers call enqueue() with the raw message; one consumer task drains
// `jobs` in order. The consumer loop has a try/finally for its bookkeeping but
// no catch: the first handler that throws ends the loop, start()'s promise
// rejects, and nothing restarts it. enqueue() keeps accepting jobs.
export class JobQueue {
  constructor(name, { maxLength = Infinity } = {}) {
    this.name = name;
    this.maxLength = maxLength;
    this.jobs = [];
    this.seq = 0;
    this.rejected = 0;
    this.processed = 0;
    this.running = false;
    this.wakeUp = null;
  }

  enqueue(raw) {
    if (this.jobs.length >= this.maxLength) {
      this.rejected++;
      return false;
    }
    const job = { id: ++this.seq, payload: JSON.parse(raw), attempts: 0 };
    this.jobs.push(job);
    if (this.wakeUp !== null) {
      const wake = this.wakeUp;
      this.wakeUp = null;
      wake();
    }
    return true;
  }

  async start(handler) {
    this.running = true;
    try {
      while (this.running) {
        const job = this.jobs.shift();
        if (job === undefined) {
          await new Promise((resolve) => (this.wakeUp = resolve));
          continue;
        }
        job.attempts++;
        await handler(job.payload, job);
        this.processed++;
      }
    } finally {
      this.running = false;
    }
  }

  stop() {
    this.running = false;
    this.wakeUp?.();
  }
}
