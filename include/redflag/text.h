/*
 * text — turning decoded message text into the author's own words.
 *
 * Pure functions on UTF-8 strings; no I/O, no global state. Every function returns a new
 * string the caller frees.
 */
#ifndef REDFLAG_TEXT_H
#define REDFLAG_TEXT_H

#include <stddef.h>

/*
 * Converts HTML to plain text: drops <script>, <style>, <head> and comments, turns block
 * elements and <br> into line breaks, <blockquote> content into "> " quoted lines (so
 * text_strip_reply removes it), decodes entities (named, &#NN; and &#xNN;), folds runs
 * of spaces.
 */
char *text_from_html(const char *html, size_t len);

/*
 * Returns the author's new text: cuts at the first reply/forward marker ("On … wrote:",
 * "Am … schrieb …:", "Den … skrev …:", "-----Original Message-----", "Von:/Fra:/From:"
 * header blocks, Lotus Notes "sender / date / To: … Subject:" blocks, "---------- Forwarded
 * message", "----- Forwarded by … -----", "Begin forwarded message:"), removes "> " quoted
 * lines, the signature (after "-- "), mobile footers ("Sent from my iPhone") and legal
 * disclaimers. A signature without "-- " goes too, but only at the end and only when every
 * line of it looks like one: the name/title/address/phone lines after a closing ("Best
 * regards,", "Mit freundlichen Grüßen", "Med venlig hilsen"; the closing stays), or a name
 * opening a paragraph followed by contact details. Runs in time linear in the input.
 */
char *text_strip_reply(const char *text);

/*
 * Normalises: CRLF → LF, removes control characters except \n and \t, replaces invalid
 * UTF-8 with U+FFFD, collapses more than two blank lines, trims. Output is valid UTF-8.
 */
char *text_normalize(const char *text, size_t len);

#endif
