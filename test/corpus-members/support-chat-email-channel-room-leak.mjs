// Support chat server. Every support ticket gets a chat room: the customer
// and the assigned agent talk in it, and the room keeps the whole message
// history (class SupportRoom, `messages` array) so that either side can
// reload the conversation. Rooms live in the module-level Map `rooms` until
// the agent resolves the ticket, which closes the room, archives a summary
// and drops it.
//
// Tickets come from the web widget and the in-app chat. At the onset
// (SCENARIO_ONSET, default 75 min) the new email channel goes live: the mail
// provider's inbound webhook (POST /v1/inbound-email) opens a ticket per new
// email thread, and replies on the thread are routed into the same room.
// openTicketFromEmail() stores the email thread key in `ticket.roomId` (the
// field the routing code reads for replies is `emailThreads`, which is right),
// so when the agent resolves an email ticket, closeRoom() looks up the thread
// key in `rooms`, finds nothing and returns quietly: every room opened for an
// email ticket stays in `rooms` with its message history (customers' emails
// in text and HTML, agents' replies).
import {
  buildBallast,
  every,
  listen,
  onsetMs,
  onsetSeconds,
  programSeconds,
  readBody,
  ready,
  reportStats,
  rng,
  selfRequests,
  speed,
} from '../corpus/lib/corpus.mjs';

const random = rng(0x5c4a7);
const EMAIL_CHANNEL_AT_S = onsetSeconds(4500);

/** Production seconds -> wall milliseconds at the current speed. */
const wallMs = (seconds) => (seconds * 1000) / speed;

// --- domain --------------------------------------------------------------------

const AGENTS = Array.from({ length: 24 }, (_, i) => `agent_${String(i + 1).padStart(2, '0')}`);

/** Open rooms by room id. */
const rooms = new Map();
/** Open tickets by ticket id. */
const tickets = new Map();
/** Email thread key -> room id, for routing replies on a thread into its room. */
const emailThreads = new Map();
/** Summaries of the last 1 000 closed rooms (for the supervisor dashboard). */
const closedRooms = [];

const channels = { emailEnabled: false };
const counters = { ticketsOpened: 0, ticketsResolved: 0, roomsClosed: 0, messages: 0, emailTickets: 0, emailReplies: 0 };

let roomSeq = 0;
let ticketSeq = 0;

class SupportRoom {
  constructor(ticket, agentId, now) {
    this.id = `room_${(++roomSeq).toString(36)}`;
    this.ticketId = ticket.id;
    this.channel = ticket.channel;
    this.customerId = ticket.customerId;
    this.agentId = agentId;
    this.messages = [];
    this.openedAt = now;
    this.lastActivityAt = now;
    this.unreadByAgent = 0;
  }

  post(message) {
    this.messages.push(message);
    this.lastActivityAt = message.sentAt;
    if (message.role === 'customer') this.unreadByAgent++;
    else this.unreadByAgent = 0;
  }

  after(seq) {
    const out = [];
    for (let i = this.messages.length - 1; i >= 0 && this.messages[i].seq > seq; i--) out.push(this.messages[i]);
    return out.reverse();
  }
}

/** One message as kept in the room's history. */
function toMessage(room, author, role, body, now) {
  return {
    seq: room.messages.length + 1,
    author,
    role,
    text: body.text,
    html: body.html ?? null,
    attachments: body.attachments ?? [],
    sentAt: now,
  };
}

function assignAgent() {
  // Least loaded agent (open rooms), ties to the first.
  let best = AGENTS[0];
  let bestLoad = Infinity;
  for (const agent of AGENTS) {
    const load = agentLoad.get(agent) ?? 0;
    if (load < bestLoad) {
      best = agent;
      bestLoad = load;
    }
  }
  agentLoad.set(best, bestLoad + 1);
  return best;
}
const agentLoad = new Map();

function openRoom(ticket, now) {
  const room = new SupportRoom(ticket, assignAgent(), now);
  rooms.set(room.id, room);
  return room;
}

function closeRoom(roomId, now) {
  const room = rooms.get(roomId);
  if (room === undefined) return false;
  rooms.delete(roomId);
  agentLoad.set(room.agentId, Math.max(0, (agentLoad.get(room.agentId) ?? 1) - 1));
  closedRooms.push({ roomId, ticketId: room.ticketId, channel: room.channel, messages: room.messages.length, minutes: Math.round((now - room.openedAt) / 60) });
  if (closedRooms.length > 1000) closedRooms.shift();
  counters.roomsClosed++;
  return true;
}

function openTicket(body, now) {
  const ticket = {
    id: `T-${100000 + ++ticketSeq}`,
    channel: body.channel,
    customerId: body.customerId,
    subject: body.subject,
    status: 'open',
    createdAt: now,
    roomId: null,
    threadKey: null,
  };
  const room = openRoom(ticket, now);
  ticket.roomId = room.id;
  tickets.set(ticket.id, ticket);
  room.post(toMessage(room, body.customerId, 'customer', { text: body.text }, now));
  counters.ticketsOpened++;
  counters.messages++;
  return { ticket, room };
}

function threadKeyOf(email) {
  // Replies carry the first message's id in In-Reply-To / References.
  return (email.inReplyTo ?? email.messageId).toLowerCase();
}

function openTicketFromEmail(email, now) {
  const threadKey = threadKeyOf(email);
  const ticket = {
    id: `T-${100000 + ++ticketSeq}`,
    channel: 'email',
    customerId: email.from,
    subject: email.subject,
    status: 'open',
    createdAt: now,
    roomId: threadKey,
    threadKey,
  };
  const room = openRoom(ticket, now);
  emailThreads.set(threadKey, room.id);
  tickets.set(ticket.id, ticket);
  room.post(toMessage(room, email.from, 'customer', { text: email.text, html: email.html, attachments: email.attachments }, now));
  counters.ticketsOpened++;
  counters.emailTickets++;
  counters.messages++;
  return { ticket, room };
}

function resolveTicket(ticket, now) {
  ticket.status = 'resolved';
  tickets.delete(ticket.id);
  closeRoom(ticket.roomId, now);
  if (ticket.threadKey !== null && !rooms.has(emailThreads.get(ticket.threadKey))) emailThreads.delete(ticket.threadKey);
  counters.ticketsResolved++;
}

// --- HTTP ------------------------------------------------------------------------

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  return JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
}

async function handler(req, res) {
  const url = new URL(req.url ?? '/', 'http://support.local');
  const parts = url.pathname.split('/');
  const now = programSeconds();
  try {
    if (req.method === 'POST' && url.pathname === '/v1/tickets') {
      const body = await readJson(req);
      if (body.channel !== 'web' && body.channel !== 'in-app') return sendJson(res, 400, { error: 'unknown channel' });
      const { ticket, room } = openTicket(body, now);
      return sendJson(res, 201, { ticketId: ticket.id, roomId: room.id, agentId: room.agentId });
    }
    if (req.method === 'POST' && url.pathname === '/v1/inbound-email') {
      const email = await readJson(req);
      if (!channels.emailEnabled) return sendJson(res, 404, { error: 'email channel not enabled' });
      const existing = email.inReplyTo ? emailThreads.get(threadKeyOf(email)) : undefined;
      if (existing !== undefined && rooms.has(existing)) {
        const room = rooms.get(existing);
        room.post(toMessage(room, email.from, 'customer', { text: email.text, html: email.html, attachments: email.attachments }, now));
        counters.emailReplies++;
        counters.messages++;
        return sendJson(res, 202, { roomId: room.id });
      }
      const { ticket, room } = openTicketFromEmail(email, now);
      return sendJson(res, 201, { ticketId: ticket.id, roomId: room.id, agentId: room.agentId });
    }
    if (parts[1] === 'v1' && parts[2] === 'rooms' && parts[4] === 'messages') {
      const room = rooms.get(parts[3]);
      if (room === undefined) return sendJson(res, 404, { error: 'no such room' });
      if (req.method === 'POST') {
        const body = await readJson(req);
        const message = toMessage(room, body.author, body.role, body, now);
        room.post(message);
        counters.messages++;
        return sendJson(res, 201, { seq: message.seq });
      }
      const after = Number(url.searchParams.get('after') ?? 0);
      return sendJson(res, 200, { roomId: room.id, messages: room.after(after) });
    }
    if (req.method === 'POST' && parts[1] === 'v1' && parts[2] === 'tickets' && parts[4] === 'resolve') {
      const ticket = tickets.get(parts[3]);
      if (ticket === undefined) return sendJson(res, 404, { error: 'no such ticket' });
      resolveTicket(ticket, now);
      return sendJson(res, 200, { ticketId: ticket.id, status: ticket.status });
    }
    if (req.method === 'GET' && parts[1] === 'v1' && parts[2] === 'agents' && parts[4] === 'inbox') {
      const agentId = parts[3];
      const inbox = [];
      for (const room of rooms.values()) {
        if (room.agentId === agentId && room.unreadByAgent > 0) inbox.push({ roomId: room.id, ticketId: room.ticketId, unread: room.unreadByAgent, channel: room.channel });
      }
      return sendJson(res, 200, { agentId, inbox: inbox.slice(0, 50) });
    }
    if (req.method === 'GET' && url.pathname === '/v1/stats') return sendJson(res, 200, { openRooms: rooms.size, openTickets: tickets.size, recentlyClosed: closedRooms.slice(-10), ...counters });
    if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    sendJson(res, 404, { error: 'not found' });
  } catch (error) {
    if (!res.headersSent) sendJson(res, 500, { error: String(error.message ?? error) });
  }
}

// --- customers and agents (the load) ---------------------------------------------

const WORDS = (
  'order delivery parcel refund invoice account password payment card charged twice tracking number ' +
  'warehouse courier address changed please could you check again thanks hello still waiting item ' +
  'damaged replacement return label size colour wrong subscription cancel renew discount code voucher ' +
  'expired app crashes login email confirm reset link does not work since yesterday morning weekend'
).split(' ');
const SUBJECTS = ['Where is my order?', 'Refund not received', 'Charged twice', 'Cannot log in', 'Wrong item delivered', 'Change delivery address', 'Cancel subscription', 'Voucher not accepted'];
const NAMES = ['Anna', 'Ben', 'Chiara', 'David', 'Elif', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jan', 'Kai', 'Lena'];

function sentence(words) {
  let out = '';
  for (let i = 0; i < words; i++) out += (i === 0 ? '' : ' ') + WORDS[Math.floor(random() * WORDS.length)];
  return `${out.charAt(0).toUpperCase()}${out.slice(1)}.`;
}

function paragraph(sentences) {
  const parts = [];
  for (let i = 0; i < sentences; i++) parts.push(sentence(5 + Math.floor(random() * 14)));
  return parts.join(' ');
}

function chatText() {
  return paragraph(1 + Math.floor(random() * 3));
}

const DISCLAIMER =
  'This e-mail and any attachments are confidential and intended solely for the addressee. If you have received it in error, please notify the sender and delete it. ' +
  'Any views expressed are those of the author and do not necessarily represent those of the company.';

/** An email as the mail provider's webhook delivers it: plain text and HTML parts. */
function emailBody(name, previous) {
  const paragraphs = [];
  const count = 2 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) paragraphs.push(paragraph(2 + Math.floor(random() * 4)));
  const quoted = previous ? `\n\nOn ${new Date(Date.UTC(2024, 5, 3) + programSeconds() * 1000).toUTCString()} Support wrote:\n> ${previous.replace(/\n/g, '\n> ')}` : '';
  const text = `Hello,\n\n${paragraphs.join('\n\n')}\n\nKind regards,\n${name}\n\n-- \n${DISCLAIMER}${quoted}`;
  const html =
    `<html><head><meta charset="utf-8"><style>p{margin:0 0 1em 0;font-family:Arial,sans-serif;font-size:14px}</style></head><body>` +
    `<div dir="ltr"><p>Hello,</p>${paragraphs.map((p) => `<p>${p}</p>`).join('')}<p>Kind regards,<br>${name}</p>` +
    `<div class="signature" style="color:#777;font-size:11px">${DISCLAIMER}</div>` +
    (previous ? `<blockquote style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">${previous.replace(/\n/g, '<br>')}</blockquote>` : '') +
    `</div></body></html>`;
  return { text, html };
}

/** Conversations in progress on the customers' and agents' side. */
const conversations = [];
/** Requests waiting to be sent (the load clients drain it). */
const outbox = [];
let conversationSeq = 0;

/** Opens a conversation and returns the request that creates its ticket. */
function startConversation(channel) {
  const id = ++conversationSeq;
  const name = NAMES[id % NAMES.length];
  const conv = {
    id,
    channel,
    name,
    customerId: channel === 'email' ? `${name.toLowerCase()}.${id}@example.org` : `cust_${(id * 7919) % 500_000}`,
    ticketId: null,
    roomId: null,
    agentId: null,
    messageId: `<${id}.${Math.floor(random() * 1e9).toString(36)}@mail.example.org>`,
    turnsLeft: channel === 'email' ? 4 + Math.floor(random() * 8) : 6 + Math.floor(random() * 22),
    nextRole: 'agent',
    lastAgentText: null,
    nextAt: Infinity,
    state: 'opening',
  };
  conversations.push(conv);
  const subject = SUBJECTS[Math.floor(random() * SUBJECTS.length)];
  if (channel === 'email') {
    const body = emailBody(name, null);
    return {
      method: 'POST',
      path: '/v1/inbound-email',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: conv.customerId, to: 'support@shop.example', subject, messageId: conv.messageId, text: body.text, html: body.html, attachments: [] }),
      conv,
    };
  }
  return {
    method: 'POST',
    path: '/v1/tickets',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, customerId: conv.customerId, subject, text: chatText() }),
    conv,
  };
}

/** Seconds until the next message: chat is quick, email is slow. */
function gapSeconds(conv) {
  if (conv.channel === 'email') return conv.nextRole === 'agent' ? 120 + random() * 480 : 180 + random() * 900;
  return 15 + random() * 75;
}

function nextTurn(conv, now) {
  if (conv.turnsLeft <= 0) {
    outbox.push({ method: 'POST', path: `/v1/tickets/${conv.ticketId}/resolve`, headers: { 'content-type': 'application/json' }, body: '{}', conv, resolve: true });
    conv.state = 'resolving';
    conv.nextAt = Infinity;
    return;
  }
  conv.turnsLeft--;
  if (conv.channel === 'email' && conv.nextRole === 'customer') {
    const body = emailBody(conv.name, conv.lastAgentText);
    outbox.push({
      method: 'POST',
      path: '/v1/inbound-email',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: conv.customerId,
        to: 'support@shop.example',
        subject: 'Re: your request',
        messageId: `<${conv.id}.${conv.turnsLeft}.reply@mail.example.org>`,
        inReplyTo: conv.messageId,
        text: body.text,
        html: body.html,
        attachments: [],
      }),
    });
  } else {
    const author = conv.nextRole === 'agent' ? conv.agentId : conv.customerId;
    const text = conv.nextRole === 'agent' && conv.channel === 'email' ? paragraph(3 + Math.floor(random() * 5)) : chatText();
    if (conv.nextRole === 'agent') conv.lastAgentText = text;
    outbox.push({
      method: 'POST',
      path: `/v1/rooms/${conv.roomId}/messages`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ author, role: conv.nextRole, text }),
    });
  }
  conv.nextRole = conv.nextRole === 'agent' ? 'customer' : 'agent';
  conv.nextAt = now + gapSeconds(conv);
}

function onResponse(status, text, request) {
  const conv = request.conv;
  if (conv === undefined) return;
  if (request.resolve) {
    conv.state = 'done';
    return;
  }
  if (status !== 201) {
    conv.state = 'done';
    return;
  }
  const reply = JSON.parse(text);
  conv.ticketId = reply.ticketId;
  conv.roomId = reply.roomId;
  conv.agentId = reply.agentId;
  conv.state = 'talking';
  conv.nextAt = programSeconds() + gapSeconds(conv);
}

function simulate() {
  const now = programSeconds();
  let keep = 0;
  for (let i = 0; i < conversations.length; i++) {
    const conv = conversations[i];
    if (conv.state === 'done') continue;
    if (conv.state === 'talking' && conv.nextAt <= now) nextTurn(conv, now);
    conversations[keep++] = conv;
  }
  conversations.length = keep;
}

// --- wiring ------------------------------------------------------------------------

const ballastMb = buildBallast();
const { port } = await listen(handler);

setTimeout(() => {
  channels.emailEnabled = true;
}, onsetMs(4500));

// New tickets: ~180/h from the widget and the app; from the email launch also ~100/h by email.
const newChats = selfRequests(port, {
  perSecond: 180 / 3600,
  maxInFlight: 8,
  next: () => startConversation(random() < 0.65 ? 'web' : 'in-app'),
  onResponse,
});
const newEmails = selfRequests(port, {
  perSecond: () => (programSeconds() >= EMAIL_CHANNEL_AT_S ? 100 / 3600 : 0),
  maxInFlight: 8,
  next: () => startConversation('email'),
  onResponse,
});
// Everything the conversations produce (messages, replies, resolutions).
every(wallMs(5), simulate);
const traffic = selfRequests(port, { perSecond: 20, maxInFlight: 16, next: () => outbox.shift() ?? null, onResponse });
// Agent consoles poll their inbox every 20 s; the supervisor dashboard every 30 s.
let agentTurn = 0;
const polls = selfRequests(port, {
  perSecond: AGENTS.length / 20 + 1 / 30,
  maxInFlight: 8,
  next: () => {
    agentTurn = (agentTurn + 1) % (AGENTS.length + 1);
    if (agentTurn === AGENTS.length) return { method: 'GET', path: '/v1/stats' };
    return { method: 'GET', path: `/v1/agents/${AGENTS[agentTurn]}/inbox` };
  },
});

function heldMessages() {
  let count = 0;
  for (const room of rooms.values()) count += room.messages.length;
  return count;
}

reportStats(() => ({
  retained: heldMessages(),
  rooms: rooms.size,
  emailRooms: [...rooms.values()].filter((r) => r.channel === 'email').length,
  openTickets: tickets.size,
  conversations: conversations.length,
  ticketsOpened: counters.ticketsOpened,
  ticketsResolved: counters.ticketsResolved,
  roomsClosed: counters.roomsClosed,
  emailTickets: counters.emailTickets,
  requestsFailed: newChats.failed + newEmails.failed + traffic.failed + polls.failed,
}));

ready(
  `support-chat-email-channel-room-leak: support chat, ~180 tickets/h, room history in SupportRoom.messages; from the email launch at ${EMAIL_CHANNEL_AT_S} s email tickets' rooms are never closed (speed ${speed}, ballast ${ballastMb} MB, port ${port})`,
);
