/* cgi.h: CGI/1.1 (RFC 3875). */
#ifndef ITKD_CGI_H
#define ITKD_CGI_H

struct exchange;
struct path_res;

/* Run the script res names (res->cgi or res->in_cgi_dir says how), feed it
 * the request body, and send its answer. Runs in stage 2.
 * Returns 0 (answered; ex->status etc. set), an HTTP status (>0) if nothing
 * was sent and the caller must answer with that status (file_error), 1 with
 * ex->redirect set for a local redirect, or -1 if the connection must close. */
int cgi_serve(struct exchange *ex, const struct path_res *res);

#endif
