/*
 * broadcast — is a message written to the owner personally, or to a crowd or by a machine?
 *
 * Text signals describe what one client asks of the owner. An announcement to a whole
 * company, a newsletter, a survey, an auction notice or a system message carries the same
 * words ("urgent", "we appreciate your support", "the meeting is cancelled") without that
 * meaning, so classify gives such mail no text signals at all.
 */
#ifndef REDFLAG_BROADCAST_H
#define REDFLAG_BROADCAST_H

#include <stdbool.h>

#include "redflag/classify.h"

/*
 * True when in looks like broadcast or automated mail. Any one of these decides:
 *  - MESSAGE_LIST, MESSAGE_BULK or MESSAGE_AUTO in in->flags, or in->automated;
 *  - more than BROADCAST_MAX_RCPT recipients in To and Cc (in->n_rcpt; 0 means unknown);
 *  - a machine's or a mailing's own words in the subject or the author's text
 *    ("unsubscribe", "this is an automated message", "please do not reply to this e-mail",
 *    "abbestellen", "afmeld", "diese E-Mail wurde automatisch erstellt", ...);
 *  - two announcement shapes together ("dear all/customers/members", "to all employees",
 *    "click here", "newsletter", "survey", "auction", "privacy policy", ...), or one of them
 *    with more than BROADCAST_FEW_RCPT recipients.
 * Reads only in->flags, in->automated, in->n_rcpt, in->subject and in->text (NULL is fine).
 */
bool broadcast_detect(const struct classify_input *in);

#define BROADCAST_MAX_RCPT 10 /* To + Cc beyond this: nobody is addressed personally */
#define BROADCAST_FEW_RCPT 3  /* with an announcement shape, a mail to more is broadcast */

#endif
