// In-process pub/sub for the market-data gateway: the feed handler publishes
// every price tick on the bus, and whoever wants ticks subscribes a handler.
// Deliberately simple (it started as a 30-line helper): one flat list of
// subscribers, every message goes to every subscriber of its topic, and the
// handler picks what it wants (e.g. its symbol) itself.
export class BusFullError extends Error {
  constructor(limit) {
    super(`price bus: ${limit} subscribers, refusing more`);
    this.code = 'BUS_FULL';
  }
}

export class PriceBus {
  constructor({ maxSubscribers = Infinity } = {}) {
    this.subscribers = [];
    this.maxSubscribers = maxSubscribers;
    this.nextId = 1;
    this.published = 0;
    this.dispatched = 0;
  }

  subscribe(topic, owner, handler) {
    if (this.subscribers.length >= this.maxSubscribers) throw new BusFullError(this.maxSubscribers);
    const sub = { id: this.nextId++, topic, owner, handler, since: Date.now(), calls: 0 };
    this.subscribers.push(sub);
    return sub.id;
  }

  unsubscribe(id) {
    const index = this.subscribers.findIndex((sub) => sub.id === id);
    if (index === -1) return false;
    this.subscribers.splice(index, 1);
    return true;
  }

  publish(topic, message) {
    this.published++;
    const subscribers = this.subscribers;
    for (let i = 0; i < subscribers.length; i++) {
      const sub = subscribers[i];
      if (sub.topic !== topic) continue;
      sub.calls++;
      sub.handler(message);
    }
    this.dispatched += subscribers.length;
  }
}
