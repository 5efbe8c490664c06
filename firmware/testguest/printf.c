/* A small vsnprintf: %d %i %u %x %X %p %s %c %%, flags '0' '-' '#',
 * width, precision (for %s only: at most that many characters), length
 * l ll z. */
#include "tg.h"

struct out {
	char *buf;
	size_t size, pos;
};

static void put(struct out *o, char c)
{
	if (o->pos + 1 < o->size)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_padded(struct out *o, const char *s, size_t len, int width, bool left, char pad)
{
	int fill = width > (int)len ? width - (int)len : 0;

	if (!left && pad == '0' && len && (s[0] == '-')) { /* sign before zeros */
		put(o, '-');
		s++;
		len--;
	}
	if (!left)
		while (fill-- > 0)
			put(o, pad);
	for (size_t i = 0; i < len; i++)
		put(o, s[i]);
	if (left)
		while (fill-- > 0)
			put(o, ' ');
}

int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		bool left = false, alt = false;
		char pad = ' ';
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				pad = '0';
			else if (*p == '#')
				alt = true;
			else
				break;
		}
		int width = 0;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		int prec = -1;
		if (*p == '.') {
			prec = 0;
			for (p++; *p >= '0' && *p <= '9'; p++)
				prec = prec * 10 + (*p - '0');
		}
		int lng = 0;
		while (*p == 'l' || *p == 'z') {
			lng++;
			p++;
		}
		char tmp[24];
		size_t n = 0;
		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
			char rev[24];
			size_t r = 0;
			do {
				rev[r++] = (char)('0' + u % 10);
				u /= 10;
			} while (u);
			if (v < 0)
				tmp[n++] = '-';
			while (r)
				tmp[n++] = rev[--r];
			put_padded(&o, tmp, n, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'p': {
			uint64_t u;
			unsigned base = *p == 'u' ? 10 : 16;
			const char *digits = *p == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
			if (*p == 'p') {
				u = (uint64_t)va_arg(ap, void *);
				alt = true;
			} else {
				u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			}
			char rev[24];
			size_t r = 0;
			do {
				rev[r++] = digits[u % base];
				u /= base;
			} while (u);
			if (alt && base == 16) {
				put(&o, '0');
				put(&o, 'x');
				width -= 2;
			}
			while (r)
				tmp[n++] = rev[--r];
			put_padded(&o, tmp, n, width, left, pad);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t len = prec < 0 ? strlen(s) : tg_strnlen(s, (size_t)prec);
			put_padded(&o, s, len, width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (o.size)
		o.buf[o.pos < o.size ? o.pos : o.size - 1] = '\0';
	return (int)o.pos;
}

int tg_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = tg_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void tg_printf(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = tg_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	uart_write(line, (size_t)n);
}
