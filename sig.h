/* sig.h: signal dispositions across execve. */
#ifndef ITKD_SIG_H
#define ITKD_SIG_H

/* Every disposition back to SIG_DFL (the master, once, at its start). */
void sig_default_all(void);
/* Ignore the signals itkd ignores (SIGPIPE, SIGXFSZ): 0, or -1. */
int sig_ignore_ours(void);
/* A CGI child before execve: those back to SIG_DFL. The rest already are,
 * or hold a handler, which execve resets itself. */
void sig_default_ours(void);

#endif
