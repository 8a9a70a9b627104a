#!/bin/sh
# Never answers; leaves a child of its own behind for the group kill.
sleep 100 &
sleep 100
