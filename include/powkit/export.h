/* powkit: what the shared library exports.
 *
 * libpowkit.so is built with hidden visibility: only what these headers
 * declare with PK_API is part of its ABI, so internal helpers can change
 * without a new SONAME.  The static library and in-tree programs see the
 * same declarations; for them PK_API changes nothing.
 */
#ifndef POWKIT_EXPORT_H
#define POWKIT_EXPORT_H

#if defined(__GNUC__) && __GNUC__ >= 4
#define PK_API __attribute__((visibility("default")))
/* For data shared between the library's own files (declared in internal
 * headers): without it, position-independent code reaches the data
 * through the GOT, an extra register in the kernels' hot loops. */
#define PK_LOCAL __attribute__((visibility("hidden")))
#else
#define PK_API
#define PK_LOCAL
#endif

#endif
