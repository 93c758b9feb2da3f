#!/usr/bin/env sh
npm start
