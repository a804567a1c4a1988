#ifndef VSTREAM_CCURL_SHIM_H
#define VSTREAM_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt is variadic; Swift cannot call it. One typed wrapper per kind.
static inline CURLcode ccurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_write(CURL *h, CURLoption o, curl_write_callback v) { return curl_easy_setopt(h, o, v); }
// An upload read from a FILE can be rewound: libcurl resends the body on a fresh connection
// when a kept one turns out to be closed, instead of failing the request.
static int ccurl_seek_file(void *file, curl_off_t offset, int origin) {
    return fseeko((FILE *)file, (off_t)offset, origin) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
}
static inline CURLcode ccurl_setopt_seekable_file(CURL *h, FILE *file) {
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, ccurl_seek_file);
    return curl_easy_setopt(h, CURLOPT_SEEKDATA, file);
}
static inline CURLcode ccurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
#endif
