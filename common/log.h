/* log: one line per event on stderr (or a file): time, level, component,
 * file:line, message.  Level-checked macros; LOG_DEBUG compiles out of
 * release (NDEBUG) builds. */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

extern int log_level_current;

/* component: short name printed on each line ("node", "proxy", ...).
 * Returns 0, or -1 if `path` cannot be opened (logging stays on stderr). */
int log_init(const char *component, const char *path, int level);
/* Parse "debug|info|warning|error"; -1 if unknown. */
int log_level_parse(const char *s);
void log_write(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Re-open the log file (after rotation, on SIGHUP). */
void log_reopen(void);

#define LOG_AT(lvl, ...) do { \
        if ((lvl) >= log_level_current) log_write((lvl), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#ifdef NDEBUG
#define log_debug(...) do { } while (0)
#else
#define log_debug(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)
#endif
#define log_info(...)  LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_LVL_ERROR, __VA_ARGS__)

#endif
