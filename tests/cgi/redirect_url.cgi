#!/bin/sh
# A client redirect (RFC 3875 6.2.3): 302 to the client.
printf 'Location: http://example.org/elsewhere\n\n'
