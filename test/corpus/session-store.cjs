// In-memory session store for the account service (slow-leak-2mb-h.cjs).
//
// Sessions are keyed by their token. Until v2.14 they were keyed by user id;
// destroySession() still deletes by the old key, so a logout removes nothing
// and every session ever created stays in `sessions`. Expiry is only checked
// when a session is read, and a logged-out client never sends its token again.
'use strict';
const { randomBytes } = require('node:crypto');

const MAX_SESSIONS = 150_000; // refuse logins beyond this (corpus safety cap)

const sessions = new Map();
const counters = { created: 0, refused: 0, expired: 0, loggedOut: 0 };

function parseDevice(userAgent = '') {
  const mobile = userAgent.includes('Mobile');
  const os = userAgent.includes('iPhone') ? 'ios' : userAgent.includes('Android') ? 'android' : 'desktop';
  return { mobile, os, browser: userAgent.includes('Firefox') ? 'firefox' : 'chromium' };
}

function createSession(user, request, ttlMs) {
  if (sessions.size >= MAX_SESSIONS) {
    counters.refused++;
    return null;
  }
  const now = Date.now();
  const token = randomBytes(18).toString('base64url');
  const session = {
    token,
    userId: user.id,
    tenant: user.tenant,
    roles: user.roles.slice(),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + ttlMs,
    ip: request.ip,
    userAgent: request.userAgent,
    csrfToken: randomBytes(12).toString('hex'),
    prefs: { locale: user.locale, theme: 'light', timezone: user.timezone },
    cart: { items: [], currency: user.locale === 'en-GB' ? 'GBP' : 'EUR', updatedAt: now },
    device: parseDevice(request.userAgent),
    landingPage: `/${user.tenant}/home?utm_source=newsletter&utm_campaign=spring-${user.id % 9}&ref=${token.slice(0, 6)}`,
    features: { newCheckout: user.id % 4 === 0, savedCarts: true, giftCards: user.id % 3 === 0, wishlist: true, reviews: true, loyalty: user.id % 5 === 0, chat: false, priceAlerts: user.id % 7 === 0 },
    flash: [],
  };
  sessions.set(token, session);
  counters.created++;
  return session;
}

function getSession(token, ttlMs) {
  const session = sessions.get(token);
  if (session === undefined) return null;
  const now = Date.now();
  if (session.expiresAt <= now) {
    sessions.delete(token);
    counters.expired++;
    return null;
  }
  session.lastSeenAt = now;
  session.expiresAt = now + ttlMs;
  return session;
}

function destroySession(session) {
  counters.loggedOut++;
  sessions.delete(session.userId); // BUG: the map is keyed by token since v2.14
}

module.exports = { sessions, counters, createSession, getSession, destroySession, MAX_SESSIONS };
