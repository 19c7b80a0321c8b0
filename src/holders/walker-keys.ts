/** Names shared by the walker's TypeScript side and its in-target source. */

/** Key of the walker on `globalThis`; the version is part of it. */
export const WALKER_KEY = 'leakwatch.holders.v1'

/** Object group of every remote object a search creates; released at the end of the search. */
export const HOLDER_OBJECT_GROUP = 'leakwatch-holders'
/** Group of one batch of opened functions and scope lists; released after each batch. */
export const HOLDER_FN_GROUP = 'leakwatch-holders-fn'

/**
 * Roles of a function listed for opening (mirrored in the walker source, src/holders/walker-*.ts);
 * `private`: not a function, an object whose class declares private fields, opened for them;
 * `chain`: a closure held by a closure of the same code, followed by the sidecar link by link.
 */
export const FN_ROLE = { plain: 0, export: 1, timers: 2, private: 3, chain: 4 } as const

