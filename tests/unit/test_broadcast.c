/*
 * broadcast: which mail counts as written to a crowd or by a machine (and so gets no text
 * signals). Table-driven: header flags, recipient counts, and the words of announcements,
 * newsletters, surveys and system notices in da, de and en, against personal client mail
 * that shares some of those words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "redflag/broadcast.h"
#include "redflag/classify.h"
#include "redflag/message.h"
#include "redflag/util.h"

struct bcase {
	unsigned flags;
	bool automated;
	size_t n_rcpt;
	const char *subject;
	const char *text;
	bool want;
};

static const struct bcase cases[] = {
    /* Headers and senders decide on their own. */
    {MESSAGE_LIST, false, 1, "Re: poster", "Can you send it today?", true},
    {MESSAGE_BULK, false, 0, "", "Hi", true},
    {MESSAGE_AUTO, false, 1, "Out of office", "I am away until Monday.", true},
    {0, true, 1, "Your invoice", "Payment reminder.", true},
    {MESSAGE_HTML_ONLY | MESSAGE_TRUNCATED, false, 1, "", "Can you send it today?", false},

    /* Recipients: more than BROADCAST_MAX_RCPT is nobody in person; unknown (0) is no hint. */
    {0, false, 11, "Team", "Can you send it today?", true},
    {0, false, 69, "TEAM 6/9", "We need substitutes this Saturday.", true},
    {0, false, 10, "Team", "Can you send it today?", false},
    {0, false, 0, "Poster", "Can you send it today?", false},
    {0, false, 1, "Poster", "Can you send it today?", false},

    /* A machine's or a mailing's own words: one is enough. */
    {0, false, 1, "News", "To UNSUBSCRIBE from this list, click the link.", true},
    {0, false, 1, "", "This is an automated message, please do not reply.", true},
    {0, false, 1, "", "Please do not\nreply to this e-mail.", true},
    {0, false, 1, "Ihr Konto", "Diese E-Mail wurde automatisch erstellt.", true},
    {0, false, 1, "Newsletter", "Hier können Sie den Newsletter abbestellen.", true},
    {0, false, 1, "Nyhedsbrev", "Klik her for at afmelde nyhedsbrev.", true},
    {0, false, 1, "", "Denne e-mail er automatisk genereret. Svar venligst ikke.", true},

    /* Announcement shapes: two, or one to more than a few people. */
    {0, false, 1, "Reopening", "Dear customers, click here to book your class.", true},
    {0, false, 5, "Office move", "Dear all, the office moves on Monday.", true},
    {0, false, 2, "Office move", "Dear all, the office moves on Monday.", false},
    {0, false, 1, "Umfrage",
     "Liebe Kolleginnen und Kollegen, bitte nehmen Sie an der Umfrage teil.", true},
    {0, false, 1, "Auktion", "Kære alle, auktionen slutter i morgen. Klik her for at byde.", true},

    /* Personal mail that shares a word with them stays personal. */
    {0, false, 1, "Survey results", "Could you send me the survey results by tomorrow?", false},
    {0, false, 2, "Re: plakat", "Hej Mette, kan du nå at rette plakaten i aften?", false},
    {0, false, 1, "Termin", "Ich muss den Termin morgen leider absagen.", false},
    /* Cues start at a word: "resubscribe" holds no "unsubscribe". */
    {0, false, 1, "", "Could you resubscribe me to the print run?", false},
    {0, false, 1, NULL, NULL, false},
};

static void test_broadcast_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bcase *c = &cases[i];
		struct classify_input in = {
		    .subject = c->subject,
		    .text = c->text,
		    .flags = c->flags,
		    .automated = c->automated,
		    .n_rcpt = c->n_rcpt,
		};
		bool got = broadcast_detect(&in);

		if (got != c->want)
			fail_msg("case %zu (\"%s\" / \"%s\", %zu rcpt): want %d got %d", i,
			         c->subject ? c->subject : "(null)", c->text ? c->text : "(null)",
			         c->n_rcpt, c->want, got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_broadcast_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
