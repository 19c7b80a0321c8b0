// Connection manager for the live-scores fan-out (live-scores-fanout.mjs).
//
// Each client connection has a send buffer (an array of outgoing frames) in
// the Map `connections` keyed by connection id. publish() appends a frame to
// every subscriber's buffer; flush() drains the buffers to the sockets. A
// client whose buffer grows past `maxBuffered` (a stalled socket) is dropped.
export class ConnectionManager {
  constructor({ maxBuffered = 256 } = {}) {
    this.maxBuffered = maxBuffered;
    this.connections = new Map();
    this.byTopic = new Map(); // topic → Set of connection ids
    this.stats = { opened: 0, closed: 0, dropped: 0, framesSent: 0, bytesSent: 0 };
  }

  open(id, topics, meta) {
    const conn = { id, topics, meta, sendBuffer: [], seq: 0, openedAt: Date.now(), socket: { writable: true, written: 0 } };
    this.connections.set(id, conn);
    for (const topic of topics) {
      let ids = this.byTopic.get(topic);
      if (ids === undefined) this.byTopic.set(topic, (ids = new Set()));
      ids.add(id);
    }
    this.stats.opened++;
    return conn;
  }

  close(id) {
    const conn = this.connections.get(id);
    if (conn === undefined) return false;
    for (const topic of conn.topics) this.byTopic.get(topic)?.delete(id);
    conn.sendBuffer.length = 0;
    this.connections.delete(id);
    this.stats.closed++;
    return true;
  }

  enqueue(conn, payload) {
    if (conn.sendBuffer.length >= this.maxBuffered) {
      this.stats.dropped++;
      this.close(conn.id); // slow consumer
      return;
    }
    conn.sendBuffer.push({ seq: ++conn.seq, payload });
  }

  publish(topic, payload) {
    const ids = this.byTopic.get(topic);
    if (ids === undefined) return 0;
    let n = 0;
    for (const id of ids) {
      const conn = this.connections.get(id);
      if (conn !== undefined) {
        this.enqueue(conn, payload);
        n++;
      }
    }
    return n;
  }

  flush() {
    for (const conn of this.connections.values()) {
      if (conn.sendBuffer.length === 0 || !conn.socket.writable) continue;
      for (const frame of conn.sendBuffer) {
        conn.socket.written += frame.payload.length + 12;
        this.stats.framesSent++;
        this.stats.bytesSent += frame.payload.length + 12;
      }
      conn.sendBuffer.length = 0;
    }
  }

  buffered() {
    let n = 0;
    for (const conn of this.connections.values()) n += conn.sendBuffer.length;
    return n;
  }
}
