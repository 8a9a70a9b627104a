#!/bin/sh
printf 'Content-Type: text/plain\n\nindex script %s\n' "$SCRIPT_NAME"
