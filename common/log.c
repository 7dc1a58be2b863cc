/* log: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level_current = LOG_LVL_INFO;
static char log_component[32] = "strata";
static char *log_path;
static FILE *log_fp;

static const char *level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

int log_init(const char *component, const char *path, int level)
{
    snprintf(log_component, sizeof log_component, "%s", component);
    if (level >= LOG_LVL_DEBUG && level <= LOG_LVL_ERROR) log_level_current = level;
    free(log_path);
    log_path = NULL;
    if (log_fp && log_fp != stderr) fclose(log_fp);
    log_fp = NULL;
    if (path && *path) {
        log_path = strdup(path);
        log_fp = fopen(path, "a");
        if (!log_fp) return -1;
        setvbuf(log_fp, NULL, _IOLBF, 0);
    }
    return 0;
}

void log_reopen(void)
{
    if (!log_path) return;
    FILE *fp = fopen(log_path, "a");
    if (!fp) return;
    setvbuf(fp, NULL, _IOLBF, 0);
    if (log_fp) fclose(log_fp);
    log_fp = fp;
}

int log_level_parse(const char *s)
{
    if (!strcasecmp(s, "debug")) return LOG_LVL_DEBUG;
    if (!strcasecmp(s, "info") || !strcasecmp(s, "notice")) return LOG_LVL_INFO;
    if (!strcasecmp(s, "warning") || !strcasecmp(s, "warn")) return LOG_LVL_WARN;
    if (!strcasecmp(s, "error")) return LOG_LVL_ERROR;
    return -1;
}

void log_write(int level, const char *file, int line, const char *fmt, ...)
{
    char msg[1024], ts[64];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    fprintf(log_fp ? log_fp : stderr, "%s.%03dZ %s %s[%d] %s:%d %s\n", ts,
            (int)(tv.tv_usec / 1000), level_names[level], log_component, (int)getpid(),
            base, line, msg);
}
