/* auth.h: HTTP Basic credentials (RFC 7617) checked against a file of
 * `user:crypt-hash` lines. Runs in stage 2: the file is read as the vhost. */
#ifndef ITKD_AUTH_H
#define ITKD_AUTH_H

#include <stddef.h>

#define AUTH_USER_MAX  255      /* bytes of a user-id */
#define AUTH_PASS_MAX  255      /* bytes of a password */
#define AUTH_FILE_MAX  65536    /* bytes of a password file */
#define AUTH_LINE_MAX  1024     /* bytes of one of its lines */

/* The value of an Authorization field: 0 with user and pass set (each
 * NUL-terminated, the password is everything after the first colon); 1 if
 * value is NULL or another scheme than Basic; -1 if it is malformed: not
 * canonical padded base64, no colon, a control byte, or too long. */
int auth_basic_decode(const char *value, char user[AUTH_USER_MAX + 1],
    char pass[AUTH_PASS_MAX + 1]);

/* Find user among the lines of buf[0..len) ("user:hash", maybe more
 * ":fields"; blank lines and lines starting with '#' skipped). 1 with
 * hash[0..cap) set, 0 if absent, -1 with *line set if a line is longer
 * than AUTH_LINE_MAX. *dummy gets the first hash of the file ("" if none):
 * a stand-in of the same cost for an unknown user. */
int auth_find(const char *buf, size_t len, const char *user, char *hash,
    size_t cap, char *dummy, size_t dummycap, int *line);

/* 1 if pass hashes to hash with crypt(3), compared in constant time; 0
 * else (also for a hash that is no crypt one: "!", "*", ""). */
int auth_hash_matches(const char *pass, const char *hash);

/* Read file and check user and pass against it: 0 right, 1 wrong (or an
 * unknown user: hashed against a stand-in all the same, so the time
 * does not tell), -1 if the file cannot be used (why in err). */
int auth_verify(const char *file, const char *user, const char *pass,
    char *err, size_t errlen);

#endif
