/* text: reply/forward/signature/disclaimer stripping (da, de, en), HTML → text, normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redflag/text.h"
#include "redflag/util.h"

struct strip_case {
	const char *name;
	const char *in;
	const char *want; /* exact result of text_strip_reply */
};

static const struct strip_case strip_en[] = {
    {"gmail attribution",
     "Sounds good, see you then.\n\nOn Mon, 3 Mar 2025 at 10:12, Jane Doe "
     "<jane@x.com> wrote:\n> Can we meet Tuesday?\n> Jane",
     "Sounds good, see you then."},
    {"attribution wrapped over two lines",
     "Fine by me.\n\nOn Mon, 3 Mar 2025 at 10:12, Jane Doe\n<jane@x.com> wrote:\n\n> Old text",
     "Fine by me."},
    {"original message",
     "Please resend the invoice.\n\n-----Original Message-----\nFrom: Bob\n"
     "Sent: Monday\nTo: Me\nSubject: Invoice\n\nHere it is.",
     "Please resend the invoice."},
    {"outlook header block",
     "Agreed.\n\nFrom: Bob Smith <bob@acme.com>\nSent: Monday, April 15, "
     "2002 11:36 AM\nTo: Me\nSubject: Plan\n\nOld words",
     "Agreed."},
    {"outlook separator", "Thanks!\n\n________________________________\nFrom: Bob\nSent: Today\n",
     "Thanks!"},
    {"forwarded message",
     "FYI below.\n\n---------- Forwarded message ---------\nFrom: X "
     "<x@y.z>\nDate: Mon\n\nforwarded words",
     "FYI below."},
    {"begin forwarded message", "See this.\n\nBegin forwarded message:\n\nFrom: X\nold",
     "See this."},
    {"signature", "Call me tomorrow.\n\n-- \nJohn Smith\nAcme Corp\n+1 555 0100",
     "Call me tomorrow."},
    {"mobile footer", "On my way.\n\nSent from my iPhone", "On my way."},
    {"disclaimer",
     "Invoice attached.\n\nThis e-mail and any attachments are confidential and "
     "intended solely for the addressee.",
     "Invoice attached."},
    {"confidentiality notice",
     "Ok.\n\nCONFIDENTIALITY NOTICE: This message is for the named "
     "person only.",
     "Ok."},
    {"interleaved quotes keep the author's lines",
     "> Can you do Friday?\nYes, Friday works.\n> And the price?\nSame as before.",
     "Yes, Friday works.\nSame as before."},
    {"enron forwarded by",
     "Please review.\n\n---------------------- Forwarded by Jeff "
     "Dasovich/NA/Enron on 05/01/2001 ---------------------------\nold",
     "Please review."},
    /* Negative cases: text that must be kept. */
    {"sentence with wrote", "I wrote the report yesterday and sent it to Jane.\nIt is done.",
     "I wrote the report yesterday and sent it to Jane.\nIt is done."},
    {"'wrote:' without attribution shape",
     "Here is what the client wrote:\nthey want it "
     "cheaper.",
     "Here is what the client wrote:\nthey want it cheaper."},
    {"From: in prose", "From: the start we agreed on the price.\nNothing changed.",
     "From: the start we agreed on the price.\nNothing changed."},
    {"disclaimer words mid-paragraph", "We said this e-mail and any attachments are fine.",
     "We said this e-mail and any attachments are fine."},
    {"dashes are not a signature", "Price -- as agreed -- stays.\n---\nBest",
     "Price -- as agreed -- stays.\n---\nBest"},
    /* Lotus Notes headers: no "From:" line, sender and date above "To:". */
    {"lotus notes header",
     "Sounds fine, go ahead.  PK\n\n\nJane Roe\n04/02/2003 09:15 AM\nTo: Pat "
     "Kim/HOU/ACME@ACME\ncc: \n\nSubject: Budget\n\nPlease approve the budget.",
     "Sounds fine, go ahead.  PK"},
    {"lotus notes sender line wrapped",
     "Will do.\n\n\nJane Roe <jane@roe.example> on 04/02/2003\n09:15:10 AM\nTo: Pat "
     "Kim/HOU/ACME@ACME\ncc:\nSubject: Re: Visit\n\nCan you come Friday?",
     "Will do."},
    {"lotus notes sent by, indented, recipients wrapped",
     "Agreed.\n\n\n\tJane Roe\n\tSent by: Jane Roe\n\t04/02/2003 09:15 AM\n\n\t\t To: Pat "
     "Kim/HOU/ACME@ACME, Lee Park/HOU/ACME@ACME, Sam \nOrtiz/HOU/ACME@ACME\n\t\t cc: "
     "\n\t\t Subject: Visit\n\nold words",
     "Agreed."},
    {"lotus notes company line with From and date",
     "Thanks.\n\n\n\tAcme Energy  From:  Jane Roe     04/02/2003 09:15 AM Phone No: "
     "555-0100\t\n\n\nTo:\tPat Kim/HOU/ACME@ACME\ncc:\tLee Park/HOU/ACME@ACME\n"
     "Subject:\tRe: Totals\n\nold words",
     "Thanks."},
    {"lotus forwarded by, five dashes",
     "FYI.\n\n----- Forwarded by Jane Roe/HOU/ACME on 04/02/2003 09:15 AM -----\n\nold", "FYI."},
    {"lotus message from",
     "Noted.\n\n----- Message from Jane Roe <jane@roe.example> on Wed, 04/02/2003 09:15 "
     "-----\nTo: Pat Kim\nSubject: Visit\n\nold",
     "Noted."},
    {"original appointment",
     "I can't make it, sorry.\n\n-----Original Appointment-----\nFrom: Jane Roe\nWhen: "
     "Friday\nWhere: Room 4\n\nold",
     "I can't make it, sorry."},
    {"raw header lines above a pasted header block",
     "See below.\n\nContent-Transfer-Encoding: 7bit\nDate: Mon, 3 Mar 2003 10:00:00 -0500\n"
     "From: \"Jane Roe\" <jane@roe.example>\nTo: pat@kim.example\nSubject: Rates\n\nold",
     "See below."},
    {"memo header typed by the author",
     "To: all hands\ncc: the board\nSubject: Friday party\n\nCake at four.",
     "To: all hands\ncc: the board\nSubject: Friday party\n\nCake at four."},
    {"disclaimer in quotes, vocabulary wrapped",
     "Draft attached.\n\n\"This e-mail, including attachments, holds information that is\n"
     "confidential and may be privileged. It is meant only for the intended\nrecipient.\n\n"
     "Jane",
     "Draft attached."},
    {"disclaimer right below the text, upper case",
     "Numbers attached.\nTHE INFORMATION IN THIS MESSAGE IS PRIVILEGED AND CONFIDENTIAL AND "
     "MEANT\nFOR THE INTENDED RECIPIENT ONLY.",
     "Numbers attached."},
    {"generic disclaimer opening",
     "Ok by me.\n\nThis message may contain legally privileged information. If you are "
     "not\nthe intended recipient, please delete it.",
     "Ok by me."},
    {"confidential without the rest of a disclaimer",
     "This email confirms the order.\nPlease keep the price confidential for now.",
     "This email confirms the order.\nPlease keep the price confidential for now."},
    {"signature after a closing",
     "Please send the files by Friday.\n\nBest regards,\nJane Roe\nSenior Designer\nRoe "
     "Studio Ltd.\nPhone: +1 555 0100 200\nwww.roestudio.example",
     "Please send the files by Friday.\n\nBest regards,"},
    {"signature without a closing",
     "Call me when you land.\n\nJane Roe\nRoe Studio Ltd.\nTel. +1 555 010 "
     "0200\njane@roestudio.example",
     "Call me when you land."},
    {"rule above a signature without a closing",
     "See you then.\n\n----------\nJane Roe\nTel. +1 555 010 0200\njane@roestudio.example",
     "See you then."},
    {"sent from samsung", "On my way.\n\nSent from Samsung Mobile", "On my way."},
    /* Negative cases: what follows a closing and is not a signature stays. */
    {"sentence after a closing", "Thanks,\nJane\n\nI also need the logo in blue by tomorrow.",
     "Thanks,\nJane\n\nI also need the logo in blue by tomorrow."},
    {"postscript after a signature",
     "Best regards,\nJane Roe\nRoe Studio\n\nP.S. Can you also send the invoice?",
     "Best regards,\nJane Roe\nRoe Studio\n\nP.S. Can you also send the invoice?"},
    {"a bare name after a closing", "Best,\nJane", "Best,\nJane"},
    {"contact details the text asks for",
     "Send it to\nJane Roe\nRoe Studio Ltd.\njane@roestudio.example\n+1 555 010 0200",
     "Send it to\nJane Roe\nRoe Studio Ltd.\njane@roestudio.example\n+1 555 010 0200"},
    {"too long to be a signature", "Kind regards,\nAnn\nBo\nCy\nDi\nEd\nFay\nGus\nHal\nIda",
     "Kind regards,\nAnn\nBo\nCy\nDi\nEd\nFay\nGus\nHal\nIda"},
};

static const struct strip_case strip_de[] = {
    {"am ... schrieb",
     "Passt, bis Montag.\n\nAm 03.03.2025 um 10:12 schrieb Jane Doe "
     "<jane@x.com>:\n> Geht Montag?",
     "Passt, bis Montag."},
    {"name schrieb am",
     "Danke dir!\n\nJane Doe <jane@x.com> schrieb am Mo., 3. März 2025, "
     "10:12:\n> Hier die Datei",
     "Danke dir!"},
    {"am ... wrapped",
     "Ok.\n\nAm Mo., 3. März 2025 um 10:12 Uhr schrieb Jane Doe\n"
     "<jane@x.com>:\n> alt",
     "Ok."},
    {"ursprüngliche nachricht",
     "Bitte bis Freitag.\n\n-----Ursprüngliche Nachricht-----\n"
     "Von: Max\nGesendet: Montag\nAn: Ich\nBetreff: Termin\n\nalt",
     "Bitte bis Freitag."},
    {"von/gesendet block",
     "Gerne.\n\nVon: Max Muster <max@firma.de>\nGesendet: Montag, 3. "
     "März 2025 10:12\nAn: Ich\nBetreff: Angebot\n\nalt",
     "Gerne."},
    {"weitergeleitete nachricht",
     "Zur Info.\n\n---------- Weitergeleitete Nachricht "
     "----------\nVon: X\nalt",
     "Zur Info."},
    {"von meinem iphone gesendet", "Bin unterwegs.\n\nVon meinem iPhone gesendet",
     "Bin unterwegs."},
    {"vertrauliche e-mail",
     "Anbei die Rechnung.\n\nDiese E-Mail enthält vertrauliche und/oder "
     "rechtlich geschützte Informationen.",
     "Anbei die Rechnung."},
    {"signatur", "Bis morgen.\n\n-- \nMax Muster\nMuster GmbH", "Bis morgen."},
    /* Negative cases. */
    {"schrieb in a sentence", "Er schrieb mir gestern, dass alles passt.\nGut so.",
     "Er schrieb mir gestern, dass alles passt.\nGut so."},
    {"von in prose", "Von: heute an gilt der neue Preis.\nDanke.",
     "Von: heute an gilt der neue Preis.\nDanke."},
    {"geschrieben", "Ich hab nur den Titel hingeschrieben:\nder Rest fehlt.",
     "Ich hab nur den Titel hingeschrieben:\nder Rest fehlt."},
    {"original-nachricht",
     "Geht klar.\n\n-------- Original-Nachricht --------\nBetreff: Termin\nVon: Max\n\nalt",
     "Geht klar."},
    {"lotus notes header",
     "Passt.\n\n\nMax Muster/Firma\n03.03.2025 10:12\n\nAn: Jane Roe/Firma@Firma\nKopie: "
     "\nThema: Angebot\n\nalt",
     "Passt."},
    {"lotus weitergeleitet von",
     "Zur Info.\n\n----- Weitergeleitet von Max Muster/Firma am 03.03.2025 10:12 -----\nalt",
     "Zur Info."},
    {"ursprünglicher termin",
     "Ich kann leider nicht.\n\n-----Ursprünglicher Termin-----\nVon: Max\nWann: Freitag\n\nalt",
     "Ich kann leider nicht."},
    {"von/gesendet block in bold",
     "Mache ich.\n\n*Von:* Max Muster\n*Gesendet:* Montag, 3. März 2025 10:12\n*An:* "
     "Ich\n*Betreff:* Termin\n\nalt",
     "Mache ich."},
    {"signatur nach grußformel",
     "Bitte schicken Sie mir das Angebot bis Freitag.\n\nMit freundlichen Grüßen\n\nMax "
     "Muster\nGeschäftsführer\nMuster GmbH\nHauptstraße 12\n12345 Musterstadt\nTel.: +49 30 "
     "1234567\nwww.muster.example",
     "Bitte schicken Sie mir das Angebot bis Freitag.\n\nMit freundlichen Grüßen"},
    {"signatur ohne grußformel",
     "Bis Montag.\n\nMax Muster\nMuster GmbH\nTel. 030 1234567\nmax@muster.example", "Bis Montag."},
    {"vertraulichkeitshinweis",
     "Anbei der Vertrag.\n\nDiese Nachricht kann vertrauliche Informationen enthalten. Wenn "
     "Sie nicht der\nrichtige Adressat sind, löschen Sie sie bitte.",
     "Anbei der Vertrag."},
    {"gesendet von mail für windows", "Danke!\n\nGesendet von Mail für Windows", "Danke!"},
    /* Negative cases. */
    {"ps nach grußformel", "Viele Grüße\nMax\nMuster GmbH\n\nPS: Die Rechnung kommt morgen.",
     "Viele Grüße\nMax\nMuster GmbH\n\nPS: Die Rechnung kommt morgen."},
    {"satz nach grußformel", "Viele Grüße\nMax\n\nIch bin ab Montag wieder im Büro.",
     "Viele Grüße\nMax\n\nIch bin ab Montag wieder im Büro."},
    {"vertraulich im text",
     "Diese E-Mail bitte vertraulich behandeln, der Preis ist noch nicht offiziell.",
     "Diese E-Mail bitte vertraulich behandeln, der Preis ist noch nicht offiziell."},
};

static const struct strip_case strip_da[] = {
    {"den ... skrev",
     "Det passer fint.\n\nDen 3. mar. 2025 kl. 10.12 skrev Jane Doe "
     "<jane@x.com>:\n> Kan du mandag?",
     "Det passer fint."},
    {"gmail danish",
     "Tak!\n\nman. 3. mar. 2025 kl. 10.12 skrev Jane Doe <jane@x.com>:\n> "
     "gammel tekst",
     "Tak!"},
    {"den ... wrapped",
     "Ja.\n\nDen 3. mar. 2025 kl. 10.12 skrev Jane Doe\n<jane@x.com>:\n> "
     "gammel",
     "Ja."},
    {"oprindelig meddelelse",
     "Send venligst fakturaen.\n\n-----Oprindelig meddelelse-----\n"
     "Fra: Bo\nSendt: mandag\nTil: Mig\nEmne: Faktura\n\ngammel",
     "Send venligst fakturaen."},
    {"fra/sendt block",
     "Fint.\n\nFra: Bo Hansen <bo@firma.dk>\nSendt: 3. marts 2025 10:12\n"
     "Til: Mig\nEmne: Tilbud\n\ngammel",
     "Fint."},
    {"sendt fra min iphone", "Jeg er på vej.\n\nSendt fra min iPhone", "Jeg er på vej."},
    {"fortrolig",
     "Vedhæftet tilbuddet.\n\nDenne e-mail er fortrolig og kun tiltænkt "
     "modtageren.",
     "Vedhæftet tilbuddet."},
    {"videresendt", "Til orientering.\n\nStart på videresendt besked:\n\nFra: X\ngammel",
     "Til orientering."},
    {"signatur", "Vi ses.\n\n-- \nMette Holm\nStudio", "Vi ses."},
    /* Negative cases. */
    {"skrev in a sentence", "Hun skrev i går, at det var fint.\nSuper.",
     "Hun skrev i går, at det var fint.\nSuper."},
    {"fra in prose", "Fra: næste måned hæver jeg prisen.\nHilsen",
     "Fra: næste måned hæver jeg prisen.\nHilsen"},
    {"videresendt meddelelse",
     "Til orientering.\n\n---------- Videresendt meddelelse ----------\nFra: Bo\ngammel",
     "Til orientering."},
    {"oprindelig aftale",
     "Jeg kan desværre ikke.\n\n-----Oprindelig aftale-----\nFra: Bo\nHvornår: fredag\n\ngammel",
     "Jeg kan desværre ikke."},
    {"lotus notes header",
     "Fint.\n\n\nBo Hansen/Firma\n03-03-2025 10:12\n\nTil: Mette Holm/Firma@Firma\nKopi: "
     "\nEmne: Tilbud\n\ngammel",
     "Fint."},
    {"lotus videresendt af",
     "Se nedenfor.\n\n----- Videresendt af Bo Hansen/Firma den 03-03-2025 10:12 -----\ngammel",
     "Se nedenfor."},
    {"signatur efter hilsen",
     "Kan du sende tilbuddet i morgen?\n\nMed venlig hilsen\n\nBo Hansen\nDirektør\nHansen "
     "ApS\nHovedgaden 1\n1000 København K\nTlf. +45 12 34 56 78\nbo@hansen.example",
     "Kan du sende tilbuddet i morgen?\n\nMed venlig hilsen"},
    {"signatur uden hilsen",
     "Vi ses i morgen.\n\nBo Hansen\nHansen ApS\nTlf. +45 12 34 56 78\nbo@hansen.example",
     "Vi ses i morgen."},
    {"fortrolighed",
     "Se vedhæftede.\n\nDenne besked kan indeholde fortrolige oplysninger. Hvis du ikke er "
     "den\nrette modtager, bedes du slette den.",
     "Se vedhæftede."},
    {"kan indeholde fortrolige",
     "Tak for i dag.\n\nDenne e-mail kan indeholde fortrolige oplysninger.", "Tak for i dag."},
    {"hent outlook til ios", "Det er fint.\n\nHent Outlook til iOS", "Det er fint."},
    /* Negative cases. */
    {"ps efter hilsen", "Mvh\nBo\nHansen ApS\n\nPS: Fakturaen kommer i morgen.",
     "Mvh\nBo\nHansen ApS\n\nPS: Fakturaen kommer i morgen."},
    {"sætning efter hilsen", "Venlig hilsen\nBo\n\nJeg er på kontoret fra mandag.",
     "Venlig hilsen\nBo\n\nJeg er på kontoret fra mandag."},
};

static void run_strip(const struct strip_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = text_strip_reply(c[i].in);

		if (strcmp(got, c[i].want) != 0)
			print_error("case '%s':\n got: [%s]\nwant: [%s]\n", c[i].name, got,
			            c[i].want);
		assert_string_equal(got, c[i].want);
		free(got);
	}
}

static void test_strip_en(void **state)
{
	(void)state;
	run_strip(strip_en, ARRAY_SIZE(strip_en));
}

static void test_strip_de(void **state)
{
	(void)state;
	run_strip(strip_de, ARRAY_SIZE(strip_de));
}

static void test_strip_da(void **state)
{
	(void)state;
	run_strip(strip_da, ARRAY_SIZE(strip_da));
}

struct html_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct html_case html_cases[] = {
    {"paragraphs and br", "<p>Hello</p><p>World<br>again</p>", "Hello\n\nWorld\nagain"},
    {"named entities", "Fish &amp; chips &lt;3 &quot;yes&quot; &euro;5 &auml;&oslash;",
     "Fish & chips <3 \"yes\" €5 äø"},
    {"numeric entities", "&#8364; &#x20AC; &#228; &#150; &#0; &#xD800;", "€ € ä – � �"},
    {"unknown entity kept", "a &bogus; b &amp c", "a &bogus; b & c"},
    {"script style head comment",
     "<html><head><title>T</title><style>p{color:red}</style></head><body><script>var "
     "a='<p>x</p>';</script><!-- hidden <p>c</p> -->Visible</body></html>",
     "Visible"},
    {"blockquote", "<div>Yes.</div><blockquote>Can you?<br>Thanks</blockquote><div>Bye</div>",
     "Yes.\n> Can you?\n> Thanks\nBye"},
    {"nested blockquote", "Top<blockquote>one<blockquote>two</blockquote></blockquote>",
     "Top\n> one\n> > two"},
    {"whitespace folding", "  lots   of\n\n  space\t here  ", "lots of space here"},
    {"less-than in text", "if a < b and c<d then", "if a < b and c<d then"},
    {"unclosed tag at end", "text <b>bold</b> <a href=\"x", "text bold"},
    {"unclosed comment", "keep<!-- never closed <p>gone", "keep"},
    {"quoted > in attribute", "<a title=\"a>b\">link</a> done", "link done"},
    {"list items", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
    {"table cells", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
    {"nbsp", "a&nbsp;&nbsp;b", "a b"},
    {"pre keeps lines", "<pre>line 1\n  line 2</pre>", "line 1\n  line 2"},
    {"uppercase tags", "<P>One</P><BR><DIV>Two</DIV>", "One\n\nTwo"},
    {"br runs", "a<br><br><br><br>b", "a\n\nb"},
};

static void test_html(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(html_cases); i++) {
		const struct html_case *c = &html_cases[i];
		char *got = text_from_html(c->in, strlen(c->in));

		if (strcmp(got, c->want) != 0)
			print_error("case '%s':\n got: [%s]\nwant: [%s]\n", c->name, got, c->want);
		assert_string_equal(got, c->want);
		free(got);
	}
}

static void test_html_then_strip(void **state)
{
	const char *html = "<div>Deal.</div><div class=\"gmail_quote\">On Mon, 3 Mar 2025 at "
	                   "10:12, Jane &lt;jane@x.com&gt; wrote:<br><blockquote>Price "
	                   "ok?</blockquote></div>";
	char *t = text_from_html(html, strlen(html));
	char *s = text_strip_reply(t);

	(void)state;
	assert_string_equal(s, "Deal.");
	free(t);
	free(s);
}

struct norm_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct norm_case norm_cases[] = {
    {"crlf", "a\r\nb\rc", 0, "a\nb\nc"},
    {"controls removed",
     "a\x01\x02"
     "b\tc\x7f",
     0, "ab\tc"},
    {"invalid utf-8", "caf\xe9 \xc3\x28 ok", 0, "caf\xef\xbf\xbd \xef\xbf\xbd( ok"},
    {"overlong and surrogate", "\xc0\xaf|\xed\xa0\x80", 0,
     "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"blank runs collapse", "a\n\n\n\n\nb\n \n\t\n\nc", 0, "a\n\n\nb\n\n\nc"},
    {"trim", "\n\n   hello  \n\n", 0, "hello"},
    {"embedded nul", "a\0b", 3, "ab"},
    {"valid multibyte kept", "Grüße – ø 😀", 0, "Grüße – ø 😀"},
    {"truncated sequence at end", "ok\xe2\x82", 0, "ok\xef\xbf\xbd\xef\xbf\xbd"},
};

static void test_normalize(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		char *got = text_normalize(c->in, c->len ? c->len : strlen(c->in));

		if (strcmp(got, c->want) != 0)
			print_error("case '%s':\n got: [%s]\nwant: [%s]\n", c->name, got, c->want);
		assert_string_equal(got, c->want);
		free(got);
	}
}

/* Hostile HTML shapes must finish and produce valid output (linear, no crash). */
static void test_html_hostile(void **state)
{
	size_t n = 200000;
	char *buf = xmalloc(n + 1);
	char *t;

	(void)state;
	for (size_t i = 0; i < n; i++)
		buf[i] = "<a \"<"[i % 5];
	buf[n] = '\0';
	t = text_from_html(buf, n);
	assert_non_null(t);
	free(t);
	memset(buf, '<', n);
	t = text_from_html(buf, n);
	assert_int_equal(strspn(t, "<"), strlen(t));
	free(t);
	/* Tag-like starts with no '>' anywhere: text, kept whole (and found in one pass). */
	for (size_t i = 0; i < n; i++)
		buf[i] = "x<ab"[i % 4];
	t = text_from_html(buf, n);
	assert_int_equal(strlen(t), n);
	free(t);
	free(buf);
}

/*
 * Hostile shapes for text_strip_reply must finish (it runs on every message, so it is
 * linear) and keep what they should. Run under valgrind too: a functional test, not timed.
 */
static void test_strip_hostile(void **state)
{
	size_t n = 1024 * 1024;
	char *buf = xmalloc(n + 1);
	char *t;

	(void)state;
	/* 1 MB without a newline: one long line of prose, kept whole. */
	for (size_t i = 0; i < n; i++)
		buf[i] = "word "[i % 5];
	buf[n - 1] = 'x';
	buf[n] = '\0';
	t = text_strip_reply(buf);
	assert_int_equal(strlen(t), n);
	free(t);
	/* 100k quoted lines: all dropped. */
	for (size_t i = 0; i < n; i++)
		buf[i] = "> q\n"[i % 4];
	t = text_strip_reply(buf);
	assert_string_equal(t, "");
	free(t);
	/* 100k name-like lines: the signature walk gives up after a few, nothing is lost. */
	for (size_t i = 0; i < n; i++)
		buf[i] = "Jane Roe\n"[i % 9];
	buf[n - n % 9] = '\0';
	t = text_strip_reply(buf);
	assert_int_equal(strlen(t), n - n % 9 - 1);
	free(t);
	/* 100k "To:" lines with no cc/Subject: each looks ahead a bounded number of lines. */
	for (size_t i = 0; i < n; i++)
		buf[i] = "To: x@y\n"[i % 8];
	buf[n] = '\0';
	t = text_strip_reply(buf);
	assert_non_null(t);
	free(t);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strip_en),        cmocka_unit_test(test_strip_de),
	    cmocka_unit_test(test_strip_da),        cmocka_unit_test(test_html),
	    cmocka_unit_test(test_html_then_strip), cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_html_hostile),    cmocka_unit_test(test_strip_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
