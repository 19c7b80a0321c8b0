// Realtime session hub for the support-chat gateway (support-chat-gateway.mjs).
//
// One Hub per process keeps every client connection in `connections` so that
// room broadcasts and the heartbeat sweep can walk them. Connections are
// WebSocket-like: a handshake (connect), frames (send), a close.
export class Hub {
  constructor({ maxConnections = Infinity, backlogSize = 24 } = {}) {
    this.maxConnections = maxConnections;
    this.backlogSize = backlogSize;
    this.connections = [];
    this.byId = new Map();
    this.rooms = new Map(); // room → recent messages (bounded)
    this.online = 0;
    this.refused = 0;
    this.closed = 0;
  }

  connect(id, room, headers, claims) {
    if (this.connections.length >= this.maxConnections) {
      this.refused++;
      return null; // "server full": the client falls back to polling
    }
    const now = Date.now();
    const conn = {
      id,
      room,
      userId: claims.sub,
      displayName: claims.name,
      scopes: claims.scopes,
      state: 'open',
      connectedAt: now,
      lastSeenAt: now,
      remoteAddress: headers['x-forwarded-for'] ?? '127.0.0.1',
      userAgent: headers['user-agent'],
      protocol: headers['sec-websocket-protocol'] ?? 'chat.v2',
      extensions: ['permessage-deflate', 'client_max_window_bits=15'],
      outbox: this.replay(room, id),
      seq: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    this.connections.push(conn);
    this.byId.set(id, conn);
    this.online++;
    return conn;
  }

  // Each new connection gets the room's recent messages re-framed with its own
  // sequence numbers, so it can resume from any of them.
  replay(room, connId) {
    const recent = this.rooms.get(room) ?? [];
    const frames = [];
    for (let i = 0; i < recent.length; i++) frames.push(frame(connId, i + 1, recent[i]));
    return frames;
  }

  receive(id, text) {
    const conn = this.byId.get(id);
    if (conn === undefined || conn.state !== 'open') return false;
    conn.lastSeenAt = Date.now();
    conn.bytesIn += text.length;
    const message = { from: conn.userId, name: conn.displayName, text, at: conn.lastSeenAt };
    let recent = this.rooms.get(conn.room);
    if (recent === undefined) this.rooms.set(conn.room, (recent = []));
    recent.push(message);
    if (recent.length > this.backlogSize) recent.shift();
    return true;
  }

  // Called on the close frame / socket close. Releases the id and the counters,
  // but the connection object stays in this.connections.
  disconnect(id, code) {
    const conn = this.byId.get(id);
    if (conn === undefined) return;
    this.byId.delete(id);
    conn.state = 'closed';
    conn.closeCode = code;
    conn.closedAt = Date.now();
    this.online--;
    this.closed++;
  }

  // Heartbeat: counts stale connections (the socket layer would ping them).
  sweep(staleMs) {
    const now = Date.now();
    let stale = 0;
    for (const conn of this.connections) {
      if (conn.state === 'open' && now - conn.lastSeenAt > staleMs) stale++;
    }
    return stale;
  }
}

function frame(connId, seq, message) {
  return `{"type":"message","conn":"${connId}","seq":${seq},"from":"${message.from}","name":"${message.name}","at":${message.at},"text":${JSON.stringify(message.text)}}`;
}
