/*
 * broadcast — see include/redflag/broadcast.h.
 */
#include "redflag/broadcast.h"

#include <stddef.h>
#include <string.h>

#include "redflag/message.h"
#include "redflag/util.h"

/*
 * Phrases are matched on an ASCII-lower-cased copy, at a word start, as plain substrings:
 * write them in lower case (non-ASCII letters as they are written in lower case).
 */

/* Words only a machine or a mass mailing writes: one is enough. */
static const char *const strong_cues[] = {
    "unsubscribe",
    "opt out of",
    "opt-out",
    "this is an automated",
    "this is an automatic",
    "this message was automatically generated",
    "this e-mail was automatically generated",
    "this email was automatically generated",
    "this is a system generated",
    "this is a system-generated",
    "do not reply to this",
    "please do not reply",
    "please don't reply to this",
    "you are receiving this",
    "you received this e-mail because",
    "you received this email because",
    "if you no longer wish to receive",
    "to be removed from",
    "view this email in your browser",
    "view it in your browser",
    "abbestellen",
    "abmelden vom newsletter",
    "vom newsletter abmelden",
    "diese e-mail wurde automatisch",
    "diese nachricht wurde automatisch",
    "diese email wurde automatisch",
    "bitte antworten sie nicht auf diese",
    "automatisch generierte",
    "automatisch erstellte",
    "sie erhalten diese e-mail, weil",
    "sie erhalten diese nachricht, weil",
    "afmeld nyhedsbrev",
    "afmelde nyhedsbrev",
    "afmeld dig",
    "frameld",
    "denne e-mail er automatisk",
    "denne mail er automatisk",
    "denne besked er automatisk",
    "automatisk genereret",
    "svar venligst ikke",
    "du modtager denne",
};

/* Shapes of announcements, newsletters, surveys and auctions: two, or one to many people. */
static const char *const weak_cues[] = {
    "dear all",
    "dear customer",
    "dear member",
    "dear valued",
    "dear colleagues",
    "dear employees",
    "dear shareholders",
    "dear participants",
    "dear friends",
    "dear everyone",
    "hello everyone",
    "hello all",
    "hi everyone",
    "hi all",
    "to all employees",
    "all employees",
    "all enron employees",
    "click here",
    "newsletter",
    "survey",
    "questionnaire",
    "auction",
    "privacy policy",
    "all rights reserved",
    "liebe kolleginnen und kollegen",
    "liebe kunden",
    "liebe kundin",
    "liebe mitglieder",
    "liebe studierende",
    "liebe alle",
    "an alle mitarbeiter",
    "alle mitarbeiter",
    "klicken sie hier",
    "umfrage",
    "fragebogen",
    "auktion",
    "versteigerung",
    "datenschutzerklärung",
    "kære alle",
    "kære kunde",
    "kære medlem",
    "kære kolleger",
    "kære kollegaer",
    "til alle medarbejdere",
    "alle medarbejdere",
    "klik her",
    "nyhedsbrev",
    "spørgeskema",
    "undersøgelse",
    "persondatapolitik",
};

/* A word character for the cue start test: ASCII letters and digits, any UTF-8 byte. */
static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static void append_lower(struct strbuf *b, const char *s)
{
	if (!s)
		return;
	for (; *s; s++) {
		char c = *s;

		/* Line breaks and tabs as spaces: a cue may be wrapped across lines. */
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c == ' ' && b->len && b->data[b->len - 1] == ' ')
			continue;
		strbuf_appendc(b, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
}

/*
 * One pass over low: at every word start, the cues of the tables that begin with that byte
 * (chained by first byte, so a word start costs a few comparisons, not one per cue).
 * Returns true at the first strong cue; counts distinct weak cues in *weak (seen[] marks
 * them).
 */
static bool scan(const char *low, size_t len, bool seen[ARRAY_SIZE(weak_cues)], size_t *weak)
{
	enum { N_STRONG = ARRAY_SIZE(strong_cues), N_ALL = N_STRONG + ARRAY_SIZE(weak_cues) };
	short head[256], next[N_ALL];

	memset(head, -1, sizeof(head));
	for (size_t k = N_ALL; k-- > 0;) {
		const char *cue = k < N_STRONG ? strong_cues[k] : weak_cues[k - N_STRONG];
		unsigned char c = (unsigned char)cue[0];

		next[k] = head[c];
		head[c] = (short)k;
	}
	for (size_t i = 0; i < len; i++) {
		const char *p = low + i;

		if (i > 0 && word_byte((unsigned char)p[-1]))
			continue;
		for (short k = head[(unsigned char)*p]; k >= 0; k = next[k]) {
			const char *cue = k < N_STRONG ? strong_cues[k] : weak_cues[k - N_STRONG];

			if (strncmp(p, cue, strlen(cue)) != 0)
				continue;
			if (k < N_STRONG)
				return true;
			if (!seen[k - N_STRONG]) {
				seen[k - N_STRONG] = true;
				(*weak)++;
			}
		}
	}
	return false;
}

bool broadcast_detect(const struct classify_input *in)
{
	struct strbuf low = STRBUF_INIT;
	bool seen[ARRAY_SIZE(weak_cues)] = {false};
	size_t weak = 0;
	bool yes;

	if ((in->flags & (MESSAGE_LIST | MESSAGE_BULK | MESSAGE_AUTO)) || in->automated)
		return true;
	if (in->n_rcpt > BROADCAST_MAX_RCPT)
		return true;

	append_lower(&low, in->subject);
	strbuf_appendc(&low, ' ');
	append_lower(&low, in->text);
	yes = scan(low.data, low.len, seen, &weak);
	if (!yes)
		yes = weak >= 2 || (weak == 1 && in->n_rcpt > BROADCAST_FEW_RCPT);
	strbuf_release(&low);
	return yes;
}
