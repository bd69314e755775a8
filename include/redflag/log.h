/*
 * log — leveled logging to stderr.
 *
 * Under systemd (JOURNAL_STREAM set, or forced by log_init) every line starts with a
 * "<N>" syslog priority prefix, which journald turns into the line's priority. On a
 * terminal the lines are plain. Nothing here ever exits; fatal errors are for daemon/.
 *
 * Never pass passwords to these functions, and message bodies only to log_debug.
 */
#ifndef REDFLAG_LOG_H
#define REDFLAG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

/*
 * Sets the threshold (a syslog priority: LOG_INFO shows info and more severe) and whether
 * lines carry "<N>" prefixes. Safe to call again at any time.
 */
void log_init(int max_priority, bool priority_prefix);

/*
 * Enables trace output for a comma-separated list of topics ("imap,store"); "all" enables
 * every topic. NULL or "" disables tracing. Topic names are copied.
 */
void log_set_trace(const char *topics);

/* True when log_trace(topic, ...) would print. */
bool log_tracing(const char *topic);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like log_debug, but printed only when the topic is enabled by log_set_trace(). */
void log_trace(const char *topic, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The common backend: priority is a syslog priority. */
void log_vmsg(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
