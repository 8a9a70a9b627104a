/* cgiabi.h: the CGI programs a config names, checked against itkd's own
 * system call ABI when the config is checked (itkd -t) and at the start. */
#ifndef ITKD_CGIABI_H
#define ITKD_CGIABI_H

#include <stdio.h>

struct config;

/* Directory levels below a vhost's root (or a cgi-dir), and directory
 * entries per vhost, that the look for programs covers at most: a start
 * must not wait on a large tree. */
#define CGIABI_DEPTH    4
#define CGIABI_ENTRIES  2000
#define CGIABI_WARNINGS 8       /* warnings about programs per vhost */

/* Write "file:line: warning: ..." to out for every `cgi` interpreter, and
 * every CGI program found below a vhost's root (an executable file with
 * the suffix of a `cgi` line without interpreter, or below a `cgi-dir`),
 * that is, or whose #! interpreter is, an ELF of another system call ABI
 * than itkd's: the seccomp filter would kill it. Reads only what the
 * caller may read; a file it cannot open or read is passed over. Returns
 * the count of warnings. */
int cgiabi_warn(const struct config *cfg, FILE *out);

#endif
