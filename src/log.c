#include "redflag/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redflag/util.h"

/*
 * Logging settings are process-wide by nature (stderr is). They are written only by
 * log_init()/log_set_trace() from daemon/ at start-up and reload, never concurrently.
 */
static int log_max = LOG_INFO;
static bool log_prefix;
static char log_topics[256];

void log_init(int max_priority, bool priority_prefix)
{
	log_max = max_priority;
	log_prefix = priority_prefix;
}

void log_set_trace(const char *topics)
{
	log_topics[0] = '\0';
	if (topics == NULL || *topics == '\0')
		return;
	/* Stored as ",a,b," so a lookup is one strstr for ",topic,". */
	snprintf(log_topics, sizeof(log_topics), ",%s,", topics);
}

bool log_tracing(const char *topic)
{
	char needle[64];

	if (log_topics[0] == '\0')
		return false;
	if (strstr(log_topics, ",all,") != NULL)
		return true;
	snprintf(needle, sizeof(needle), ",%s,", topic);
	return strstr(log_topics, needle) != NULL;
}

void log_vmsg(int priority, const char *fmt, va_list ap)
{
	char line[2048];

	if (priority > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One fprintf per line keeps lines whole when several processes share stderr. */
	if (log_prefix)
		fprintf(stderr, "<%d>%s\n", priority, line);
	else
		fprintf(stderr, "redflagd: %s\n", line);
}

#define LOG_FN(name, prio)                                                                         \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vmsg(prio, fmt, ap);                                                           \
		va_end(ap);                                                                        \
	}

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

void log_trace(const char *topic, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!log_tracing(topic))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Traces are asked for explicitly, so they print whatever the level. */
	if (log_prefix)
		fprintf(stderr, "<%d>[%s] %s\n", LOG_DEBUG, topic, buf);
	else
		fprintf(stderr, "redflagd: [%s] %s\n", topic, buf);
}
