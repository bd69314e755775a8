#!/usr/bin/python3
"""Deterministic generator of a realistic multilingual freelancer's mailbox (Maildir).

    genmail.py --seed 42 --messages 20000 --senders 200 --attach-share 0.10 --maildir DIR
    genmail.py --demo --maildir DIR

The owner is "Mette Holm <mette@studio.dk>", a Danish designer. Incoming mail goes to
DIR/cur (INBOX), her replies to DIR/.Sent/cur (Sent), as Dovecot reads a Maildir++ tree.
The same seed and arguments give byte-identical files: everything comes from one
random.Random(seed), dates are computed, nothing reads the clock or the environment.

Every phrase below was written for this generator; none is copied from a real mail corpus.
Standard library only; run with Debian's /usr/bin/python3. Importable: generate(...).
"""

import argparse
import base64
import html
import os
import quopri
import sys
import textwrap
from datetime import datetime, timedelta, timezone

OWNER_NAME = "Mette Holm"
OWNER_FIRST = "Mette"
OWNER_ADDR = "mette@studio.dk"
PID = 4242  # fixed: part of every file name, so it must not be os.getpid()

# ---------------------------------------------------------------- names and organisations

FIRST = {
    "da": ["Anders", "Birgitte", "Christian", "Dorthe", "Emil", "Frederikke", "Gustav", "Hanne",
           "Ida", "Jesper", "Karen", "Lars", "Mads", "Nanna", "Ole", "Pernille", "Rasmus",
           "Signe", "Søren", "Tove", "Ulrik", "Vibeke", "Åse", "Bjørn", "Line", "Morten",
           "Trine", "Jørgen", "Malene", "Kasper"],
    "de": ["Andreas", "Birgit", "Claudia", "Dieter", "Elke", "Florian", "Gudrun", "Heike",
           "Jürgen", "Katrin", "Lukas", "Monika", "Niklas", "Sabine", "Stefan", "Ute",
           "Wolfgang", "Jörg", "Bärbel", "Tobias", "Franziska", "Matthias", "Anja", "Uwe",
           "Sören", "Miriam", "Henrik", "Kerstin", "Max", "Lena"],
    "en": ["Alice", "Ben", "Charlotte", "Daniel", "Emma", "Finn", "Grace", "Harry", "Isla",
           "Jack", "Kate", "Liam", "Megan", "Noah", "Olivia", "Patrick", "Rachel", "Sam",
           "Thomas", "Victoria", "William", "Zoe", "Chloé", "Aidan", "Sinéad", "Rory",
           "Priya", "Marcus", "Hannah", "Owen"],
}
LAST = {
    "da": ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
           "Sørensen", "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Olsen", "Thomsen",
           "Møller", "Lund", "Dahl", "Bøgh", "Kjær", "Holst", "Østergaard", "Frandsen"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Schulz", "Hoffmann", "Köhler", "Krüger", "Schröder", "Neumann", "Braun", "Groß",
           "Weiß", "Lehmann", "Bergmann", "Vogel", "Förster", "Hahn"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans",
           "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green", "Hall", "O'Brien",
           "Clarke", "Turner", "Bennett", "Fletcher", "Hart", "Murphy"],
}
ORG_A = {
    "da": ["Nordlys", "Havbryg", "Solsikke", "Kystlys", "Bølge", "Egeskov", "Fjordhus",
           "Lyngbakke", "Søndervang", "Hvidklint", "Mølleå", "Grønttorv", "Strandeng",
           "Birkely", "Klitgård", "Rødkilde", "Ærø", "Skovbo"],
    "de": ["Bergmann", "Rheinblick", "Alpenglut", "Elbufer", "Nordwind", "Tannenhof",
           "Sonnenfeld", "Weißdorn", "Lindenbaum", "Hafenkante", "Mühlbach", "Brückner",
           "Kranich", "Schönau", "Eichwald", "Löwenzahn"],
    "en": ["Brightside", "Kestrel", "Harbour Lane", "Oakridge", "Bluebell", "Northgate",
           "Silverline", "Redwood", "Foxglove", "Meadowbank", "Ironbridge", "Larkspur",
           "Copperfield", "Thistle", "Greystone", "Wildflower"],
}
ORG_B = {
    "da": [("Bryghus", "ApS"), ("Tandklinik", ""), ("Arkitekter", "A/S"), ("Bageri", ""),
           ("Rejser", "ApS"), ("Boligselskab", ""), ("Vinhandel", "ApS"), ("Møbler", "A/S"),
           ("Forlag", ""), ("Kaffebar", ""), ("Festival", ""), ("Advokater", "")],
    "de": [("Logistik", "GmbH"), ("Architekten", "PartG"), ("Verlag", "GmbH"),
           ("Brauerei", "KG"), ("Immobilien", "GmbH"), ("Reisen", "GmbH"), ("Möbelhaus", "e.K."),
           ("Kanzlei", ""), ("Bäckerei", ""), ("Stiftung", ""), ("Kaffeerösterei", "GmbH")],
    "en": [("Media", "Ltd"), ("Events", ""), ("Studios", "Ltd"), ("Coffee Co.", ""),
           ("Publishing", "Ltd"), ("Consulting", "LLP"), ("Interiors", "Ltd"),
           ("Foundation", ""), ("Brewing", "Co."), ("Travel", "Ltd"), ("Software", "Inc.")],
}
TLD = {"da": [".dk"], "de": [".de", ".de", ".at"], "en": [".co.uk", ".com", ".com", ".ie"]}
FREEMAIL = {"da": ["mail.dk", "gmail.com", "hotmail.com"],
            "de": ["gmx.de", "web.de", "gmail.com"],
            "en": ["gmail.com", "hotmail.com"]}

# Mail programs: charset/encoding habits, quoting style, and the X-Mailer line.
MUAS = {
    "apple": dict(charsets=[("utf-8", "quoted-printable")], quote="inline",
                  xm="Apple Mail (2.3774.500.171.1.1)"),
    "outlook": dict(charsets=[("windows-1252", "quoted-printable"), ("utf-8", "base64"),
                              ("iso-8859-1", "quoted-printable")], quote="outlook",
                    xm="Microsoft Outlook 16.0"),
    "thunderbird": dict(charsets=[("utf-8", "8bit"), ("iso-8859-15", "8bit")], quote="inline",
                        ua="Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 "
                           "Thunderbird/115.6.0"),
    "gmail": dict(charsets=[("utf-8", "quoted-printable"), ("utf-8", "base64")],
                  quote="inline", xm=None),
    "webmail": dict(charsets=[("iso-8859-15", "quoted-printable"), ("iso-8859-1", "8bit"),
                              ("utf-8", "8bit")], quote="inline", xm="GMX/WebMail"),
}

# ---------------------------------------------------------------- phrase banks
# Slots: {first} addressee's first name, {me} sender's first name, {project}, {day},
# {date}, {time}, {amount}, {inv}, {n}, {pct}, {colleague}, {company}.

P = {}
P["da"] = dict(
    hello=["Hej {first}", "Hej {first},", "Kære {first}", "Hejsa {first}", "Goddag {first},",
           "Hej igen {first}"],
    bye=["Mvh.\n{me}", "Venlig hilsen\n{me}", "Bedste hilsner\n{me}", "Kh {me}",
         "Hav en god dag!\n\n{me}", "Mange hilsner\n{me}"],
    projects=["det nye logo", "årsrapporten", "hjemmesiden", "messestanden", "kampagnen",
              "etiketterne", "julekortene", "menukortet", "visitkortene", "brochuren",
              "skiltningen i butikken", "designmanualen", "emballagen", "plakaterne"],
    days=["mandag", "tirsdag", "onsdag", "torsdag", "fredag"],
    money=["{n}.{k}00 kr.", "{n}.{k}50 kr. ekskl. moms"],
    neutral=[
        "Tak for dit oplæg til {project}, vi har kigget det igennem på mødet i går.",
        "Jeg har vedhæftet de tekster, vi talte om, så du kan se, hvor meget plads der skal til.",
        "Vores marketingchef {colleague} er med på kopi, da hun skal godkende den endelige version.",
        "Kan vi tage et kort opfølgende møde {day} kl. {time}? Ellers finder vi en anden dag.",
        "Farverne fra sidste udkast fungerer rigtig fint sammen med vores eksisterende materiale.",
        "Vi har aftalt internt, at vi går videre med version to, men med lidt større typografi.",
        "Trykkeriet har bedt om filerne som PDF med 3 mm beskæring og skæremærker.",
        "Jeg sender dig adgang til vores billedbank, så du kan hente fotos fra sommerens shoot.",
        "Der er ingen hast med det, men det ville være rart at have et udkast inden {date}.",
        "Bestyrelsen mødes {day}, og jeg vil gerne kunne vise dem noget konkret.",
        "Jeg har rettet et par stavefejl i teksten og markeret dem med gult i dokumentet.",
        "Logoet skal også kunne bruges i sort/hvid, fx på vores fakturaer og i avisannoncer.",
        "Vi overvejer at lave en mindre udgave af {project} til sociale medier.",
        "Det vil være en fordel, hvis formatet passer til både A4 og A5.",
        "Vores nye kollega {colleague} overtager kontakten med dig fra næste måned.",
        "Jeg er på ferie i uge {n}, men {colleague} kan svare på spørgsmål imens.",
        "Kan du give et overslag på, hvor mange timer du forventer at bruge på {project}?",
        "Vi har fået positive tilbagemeldinger fra et par af vores faste kunder på skitserne.",
        "Fotografen kan tidligst levere de færdige billeder {day} i næste uge.",
        "Husk at bruge den opdaterede adresse i kolofonen; vi er flyttet til Vesterbrogade.",
        "Jeg har lagt de gamle filer i den delte mappe, så du kan se, hvad vi tidligere har brugt.",
        "Skriftypen i overskrifterne må gerne være lidt mindre markant end i første udkast.",
        "Vi har besluttet at trykke {n}00 eksemplarer i første omgang.",
        "Kan du sende en opdateret tidsplan, så jeg kan koordinere med trykkeriet?",
        "Vores webbureau spørger, om de kan få ikonerne som SVG.",
        "Jeg har talt med direktøren, og han er glad for retningen.",
        "Vi vil gerne have, at forsiden signalerer lidt mere håndværk og lidt mindre teknik.",
        "Jeg vender tilbage, når jeg har hørt fra resten af teamet.",
    ],
    rush=["Vi skal desværre bruge det allerede i morgen tidlig, kan du nå det?",
          "Det haster meget – kan du sende det ASAP?",
          "Kan du prioritere {project}? Det skal bruges senest i morgen.",
          "Vi har brug for filerne i dag, helst inden frokost.",
          "Undskyld det korte varsel, men kunden vil se det allerede {day}.",
          "Kan du kigge på det med det samme? Det er virkelig akut.",
          "Deadline er rykket frem, så vi skal have det færdigt i aften."],
    discount=["Kan du gøre noget ved prisen? Det er lidt over vores budget.",
              "Vi havde håbet på en rabat, når vi nu har flere opgaver til dig.",
              "Kan vi få {pct} % rabat, hvis vi bestiller både {project} og visitkortene?",
              "Prisen virker høj i forhold til, hvad vi har betalt tidligere.",
              "Er der mulighed for en studierabat eller en venskabspris?",
              "Et andet bureau har tilbudt at gøre det for det halve."],
    payment=["Fakturaen ligger hos vores bogholder, hun betaler den i næste uge.",
             "Beklager, at betalingen er forsinket – vi har haft travlt med årsafslutningen.",
             "Kan vi dele betalingen op i tre rater?",
             "Vi betaler først, når hele projektet er afsluttet, det er vores politik.",
             "Jeg har ikke modtaget fakturaen, kan du sende den igen?",
             "Vores betalingsbetingelser er løbende måned plus 60 dage."],
    after_hours=["Kan du kigge på det i weekenden, så vi har det mandag morgen?",
                 "Jeg ved, det er fredag aften, men kan du lige nå en rettelse i aften?",
                 "Vi arbejder hele weekenden, så ring gerne lørdag, hvis der er noget.",
                 "Kunne du sende det søndag? Så kan jeg gennemgå det inden mødet.",
                 "Kan du være klar til et opkald kl. 21 i aften?"],
    scope_creep=["Det er bare en lille hurtig ændring, så det tager vel ikke lang tid.",
                 "Kan du lige lave en version til Instagram også? Det er jo næsten det samme.",
                 "Vi vil også gerne have en plakat ud af det – det burde være med i prisen.",
                 "Bare lige en lille ting mere: kan du også lave et nyhedsbrevsdesign?",
                 "Kan du tilføje tre ekstra sider? Det er kun småting."],
    cancellation=["Vi bliver nødt til at aflyse mødet {day}, der er kommet noget i vejen.",
                  "Vi sætter projektet på pause indtil videre.",
                  "Kan vi flytte mødet igen? Jeg er dobbeltbooket.",
                  "Vi har valgt at annullere ordren på {project}, beklager.",
                  "Desværre kan jeg ikke nå mødet i dag, kan vi tage det en anden gang?"],
    praise=["Tusind tak for det flotte arbejde, vi er virkelig glade for resultatet!",
            "Det er simpelthen så godt – præcis det, vi havde håbet på.",
            "Du har ramt vores stil perfekt, tak for din store indsats.",
            "Alle på kontoret er vilde med det nye design.",
            "Endnu en gang tak for et super samarbejde.",
            "Sikke et flot stykke arbejde, det er en fornøjelse at arbejde med dig."],
    referral=["Jeg har anbefalet dig til min gode ven {colleague}, som mangler en ny hjemmeside.",
              "Min søster har et lille firma og vil gerne høre, om du har tid til en opgave.",
              "Jeg har givet dit nummer videre til vores samarbejdspartner i Aarhus.",
              "En af vores leverandører så kataloget og spurgte, hvem der havde lavet det – "
              "jeg har givet dem din mail."],
    owner_hello=["Hej {first}", "Hej {first},", "Kære {first}", "Hej igen {first},"],
    owner=["Tak for din mail, jeg kigger på det i løbet af i morgen.",
           "Jeg har lavet to varianter af forsiden, så I kan vælge mellem dem.",
           "Skriv endelig, hvis der er noget, der skal justeres.",
           "Jeg har brug for jeres logo i vektorformat, helst som EPS eller SVG.",
           "Fotografiet på side tre er desværre i for lav opløsning til tryk.",
           "Jeg foreslår, at vi holder et kort møde, når I har set udkastet.",
           "Jeg har tilpasset farverne, så de også fungerer på ubestrøget papir.",
           "Teksterne fylder lidt mere end planlagt, så jeg har skåret en smule i billederne.",
           "Jeg har lagt filerne i den delte mappe under dagens dato.",
           "Her er den reviderede version af {project}; jeg har rettet de punkter, vi talte om.",
           "Jeg kan levere første udkast {day} i næste uge.",
           "Prisen for {project} bliver {amount}, som aftalt i tilbuddet.",
           "Vedhæftet finder du korrektur til godkendelse.",
           "Jeg har opdateret tidsplanen, så den passer med trykkeriets deadline.",
           "Det lyder godt, så går jeg videre med den retning.",
           "Jeg har brug for de endelige tekster, før jeg kan færdiggøre layoutet.",
           "Jeg sender filerne til trykkeriet, så snart du har godkendt korrekturen.",
           "Rigtig god weekend, når den kommer!"],
    owner_invoice=["Hermed faktura {inv} for {project}; betalingsfristen er {date}.",
                   "Jeg kan se, at faktura {inv} på {amount} endnu ikke er betalt. "
                   "Vil du se på det?",
                   "Venlig påmindelse: faktura {inv} forfaldt til betaling {date}."],
    subjects=["{project}", "Spørgsmål til {project}", "Korrektur på {project}",
              "Næste skridt for {project}", "Tilbud: {project}", "Møde om {project}",
              "Rettelser til {project}", "Tekster til {project}", "Tidsplan for {project}",
              "Filer til trykkeriet"],
    inv_subject=["Faktura {inv}", "Påmindelse: faktura {inv}"],
    re="SV: ", fw="VS: ",
    months=["jan.", "feb.", "mar.", "apr.", "maj", "jun.", "jul.", "aug.", "sep.", "okt.",
            "nov.", "dec."],
    sig_title=["Marketingansvarlig", "Indehaver", "Direktør", "Kommunikationskonsulent",
               "Projektleder"],
    disclaimer=("Denne e-mail kan indeholde fortrolige oplysninger. Hvis du ikke er den "
                "rette modtager, bedes du slette den og give afsenderen besked."),
)
P["de"] = dict(
    hello=["Hallo {first},", "Liebe Frau Holm,", "Hallo Frau Holm,", "Guten Tag Frau Holm,",
           "Hi {first},", "Liebe {first},"],
    bye=["Viele Grüße\n{me}", "Beste Grüße\n{me}", "Mit freundlichen Grüßen\n{me}",
         "Herzliche Grüße aus dem Büro\n{me}", "LG {me}", "Schöne Grüße\n{me}"],
    projects=["das neue Logo", "den Geschäftsbericht", "die Website", "den Messestand",
              "die Broschüre", "das Verpackungsdesign", "die Speisekarte", "die Plakate",
              "das Corporate Design", "die Visitenkarten", "den Katalog", "die Kampagne"],
    days=["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"],
    money=["{n}.{k}00 €", "{n}.{k}50 € zzgl. MwSt."],
    neutral=[
        "Vielen Dank für Ihren Entwurf für {project}, wir haben ihn gestern im Team besprochen.",
        "Anbei finden Sie die Texte, damit Sie den Platzbedarf abschätzen können.",
        "Unsere Marketingleiterin {colleague} ist in Kopie, sie muss die Endfassung freigeben.",
        "Könnten wir am {day} um {time} Uhr kurz telefonieren?",
        "Die Farben aus dem letzten Entwurf passen sehr gut zu unseren bestehenden Unterlagen.",
        "Wir haben uns intern für Variante zwei entschieden, allerdings mit größerer Schrift.",
        "Die Druckerei braucht die Dateien als PDF/X mit 3 mm Beschnitt und Schnittmarken.",
        "Ich schicke Ihnen den Zugang zu unserer Bilddatenbank mit den Fotos vom Sommer.",
        "Es eilt nicht, aber ein erster Entwurf bis zum {date} wäre schön.",
        "Der Vorstand trifft sich am {day}, und ich würde gern etwas Konkretes zeigen.",
        "Ich habe ein paar Tippfehler korrigiert und im Dokument gelb markiert.",
        "Das Logo muss auch in Schwarzweiß funktionieren, zum Beispiel auf Rechnungen.",
        "Wir überlegen, eine kleinere Version für soziale Netzwerke zu machen.",
        "Es wäre gut, wenn das Layout sowohl für A4 als auch für A5 funktioniert.",
        "Unser neuer Kollege {colleague} übernimmt ab nächstem Monat die Abstimmung mit Ihnen.",
        "Ich bin in KW {n} im Urlaub, {colleague} beantwortet in der Zeit Ihre Fragen.",
        "Können Sie abschätzen, wie viele Stunden Sie für {project} brauchen werden?",
        "Ein paar unserer Stammkunden haben die Skizzen gesehen und fanden sie gelungen.",
        "Der Fotograf liefert die fertigen Bilder frühestens am {day} nächster Woche.",
        "Bitte verwenden Sie die neue Adresse im Impressum, wir sind umgezogen.",
        "Die alten Dateien liegen im gemeinsamen Ordner, damit Sie sehen, was wir bisher hatten.",
        "Die Überschriften dürfen etwas zurückhaltender sein als im ersten Entwurf.",
        "Wir drucken zunächst {n}00 Exemplare.",
        "Schicken Sie mir bitte einen aktualisierten Zeitplan für die Abstimmung mit der Druckerei.",
        "Unsere Webagentur fragt, ob sie die Icons als SVG bekommen kann.",
        "Ich habe mit der Geschäftsführung gesprochen, die Richtung gefällt allen.",
        "Die Titelseite soll etwas mehr Handwerk und etwas weniger Technik ausstrahlen.",
        "Ich melde mich, sobald ich Rückmeldung vom restlichen Team habe.",
    ],
    rush=["Wir brauchen das leider schon bis morgen früh, schaffen Sie das?",
          "Es ist dringend – bitte schicken Sie es ASAP.",
          "Könnten Sie {project} vorziehen? Wir brauchen es spätestens morgen.",
          "Wir benötigen die Dateien noch heute, am besten vor der Mittagspause.",
          "Entschuldigen Sie die Kurzfristigkeit, aber der Kunde will es schon am {day} sehen.",
          "Können Sie sich das sofort ansehen? Es ist wirklich eilig.",
          "Die Deadline wurde vorgezogen, es muss heute Abend fertig sein."],
    discount=["Können Sie beim Preis noch etwas machen? Das liegt über unserem Budget.",
              "Wir hatten auf einen Rabatt gehofft, da wir mehrere Aufträge für Sie haben.",
              "Bekommen wir {pct} % Nachlass, wenn wir {project} und die Visitenkarten bestellen?",
              "Der Preis erscheint uns hoch im Vergleich zu früher.",
              "Eine andere Agentur würde es für die Hälfte machen."],
    payment=["Die Rechnung liegt bei unserer Buchhaltung und wird nächste Woche bezahlt.",
             "Entschuldigung für die verspätete Zahlung, der Jahresabschluss hat uns aufgehalten.",
             "Können wir die Zahlung in drei Raten aufteilen?",
             "Wir zahlen grundsätzlich erst nach Abschluss des gesamten Projekts.",
             "Die Rechnung ist bei mir nicht angekommen, könnten Sie sie noch einmal schicken?",
             "Unser Zahlungsziel beträgt 60 Tage."],
    after_hours=["Könnten Sie am Wochenende daran arbeiten, damit wir es Montag früh haben?",
                 "Ich weiß, es ist Freitagabend, aber schaffen Sie heute noch eine Korrektur?",
                 "Wir arbeiten das ganze Wochenende, rufen Sie gern am Samstag an.",
                 "Könnten Sie es am Sonntag schicken? Dann gehe ich es vor dem Termin durch.",
                 "Hätten Sie heute um 21 Uhr Zeit für ein Telefonat?"],
    scope_creep=["Das ist nur eine kleine, schnelle Änderung, das dauert ja nicht lange.",
                 "Könnten Sie noch eben eine Version für Instagram machen? Ist ja fast dasselbe.",
                 "Wir hätten gern auch ein Plakat daraus – das sollte im Preis enthalten sein.",
                 "Nur noch eine Kleinigkeit: könnten Sie auch den Newsletter gestalten?",
                 "Können Sie noch drei Seiten ergänzen? Sind nur Kleinigkeiten."],
    cancellation=["Wir müssen den Termin am {day} leider absagen.",
                  "Wir legen das Projekt vorerst auf Eis.",
                  "Können wir den Termin noch einmal verschieben? Ich bin doppelt gebucht.",
                  "Wir haben uns entschieden, den Auftrag für {project} zu stornieren.",
                  "Ich schaffe es heute leider nicht zum Termin, können wir einen neuen finden?"],
    praise=["Vielen Dank für die tolle Arbeit, wir sind begeistert!",
            "Das ist wirklich großartig geworden – genau das, was wir uns vorgestellt haben.",
            "Sie haben unseren Stil perfekt getroffen, herzlichen Dank für Ihren Einsatz.",
            "Das ganze Büro ist begeistert vom neuen Design.",
            "Nochmals danke für die hervorragende Zusammenarbeit."],
    referral=["Ich habe Sie meinem Bekannten {colleague} empfohlen, er braucht eine neue Website.",
              "Meine Schwester hat eine kleine Firma und möchte Sie gern beauftragen.",
              "Ich habe Ihre Nummer an unseren Partner in Hamburg weitergegeben.",
              "Ein Lieferant hat den Katalog gesehen und gefragt, wer ihn gestaltet hat."],
    owner_hello=["Hallo {first},", "Liebe {first},", "Guten Tag {first},", "Hallo zusammen,"],
    owner=["Danke für Ihre Nachricht, ich sehe es mir morgen an.",
           "Ich habe zwei Varianten der Titelseite vorbereitet, Sie können frei wählen.",
           "Melden Sie sich gern, wenn noch etwas angepasst werden soll.",
           "Ich brauche Ihr Logo als Vektordatei, am liebsten als EPS oder SVG.",
           "Das Foto auf Seite drei ist für den Druck leider zu niedrig aufgelöst.",
           "Ich schlage ein kurzes Gespräch vor, sobald Sie den Entwurf gesehen haben.",
           "Die Farben habe ich so angepasst, dass sie auch auf Naturpapier funktionieren.",
           "Die Texte sind etwas länger als geplant, daher habe ich die Bilder verkleinert.",
           "Die Dateien liegen im gemeinsamen Ordner unter dem heutigen Datum.",
           "Anbei die überarbeitete Version; die besprochenen Punkte sind umgesetzt.",
           "Den ersten Entwurf kann ich am {day} nächster Woche liefern.",
           "Der Preis für {project} beträgt wie im Angebot {amount}.",
           "Im Anhang finden Sie die Korrektur zur Freigabe.",
           "Ich habe den Zeitplan an die Deadline der Druckerei angepasst.",
           "Das klingt gut, dann arbeite ich in diese Richtung weiter.",
           "Ich brauche noch die finalen Texte, bevor ich das Layout abschließen kann.",
           "Sobald Sie die Korrektur freigeben, gehen die Dateien an die Druckerei."],
    owner_invoice=["Anbei die Rechnung {inv} für {project}; zahlbar bis {date}.",
                   "Die Rechnung {inv} über {amount} ist noch offen. Könnten Sie das prüfen?",
                   "Freundliche Erinnerung: Die Rechnung {inv} war am {date} fällig."],
    subjects=["{project}", "Frage zu {project}", "Korrektur: {project}", "Nächste Schritte",
              "Angebot für {project}", "Termin wegen {project}", "Änderungen an {project}",
              "Texte für {project}", "Zeitplan {project}", "Druckdaten"],
    inv_subject=["Rechnung {inv}", "Zahlungserinnerung Rechnung {inv}"],
    re="AW: ", fw="WG: ",
    months=["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.",
            "Nov.", "Dez."],
    sig_title=["Leiterin Marketing", "Geschäftsführer", "Inhaberin", "Projektmanager",
               "Assistenz der Geschäftsführung"],
    disclaimer=("Diese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der "
                "richtige Adressat sind, informieren Sie bitte sofort den Absender und "
                "vernichten Sie diese Mail. Sitz der Gesellschaft: Hamburg, "
                "Amtsgericht Hamburg HRB 12345."),
)
P["en"] = dict(
    hello=["Hi {first},", "Hello {first},", "Dear Mette,", "Hey {first}!", "Morning {first},",
           "Hi again {first},"],
    bye=["Best,\n{me}", "Kind regards,\n{me}", "Thanks,\n{me}", "Cheers,\n{me}",
         "All the best,\n{me}", "Speak soon,\n{me}"],
    projects=["the new logo", "the annual report", "the website", "the trade fair stand",
              "the brochure", "the packaging", "the menu", "the posters", "the brand guidelines",
              "the business cards", "the catalogue", "the campaign"],
    days=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    money=["£{n},{k}00", "€{n},{k}50 excl. VAT"],
    neutral=[
        "Thanks for the proposal for {project}; we went through it in yesterday's meeting.",
        "I've attached the copy we discussed so you can see how much space it needs.",
        "Our head of marketing, {colleague}, is copied in as she signs off the final version.",
        "Could we have a quick call on {day} at {time}? Otherwise we'll find another slot.",
        "The colours from the last draft work really well with our existing material.",
        "We've agreed internally to go with option two, but with slightly larger type.",
        "The printer has asked for print-ready PDFs with 3 mm bleed and crop marks.",
        "I'll send you access to our image library so you can grab the photos from the shoot.",
        "No rush, but it would be lovely to see a draft before {date}.",
        "The board meets on {day} and I'd like to show them something concrete.",
        "I've fixed a couple of typos in the text and highlighted them in yellow.",
        "The logo also has to work in black and white, e.g. on invoices and print ads.",
        "We're thinking about a smaller version of {project} for social media.",
        "It would help if the layout worked for both A4 and A5.",
        "Our new colleague {colleague} will be your main contact from next month.",
        "I'm on holiday in week {n}, but {colleague} can answer questions in the meantime.",
        "Could you estimate how many hours you expect {project} to take?",
        "A few of our regular customers have seen the sketches and liked them.",
        "The photographer can deliver the final images on {day} next week at the earliest.",
        "Please use the updated address in the imprint – we've moved offices.",
        "I've put the old files in the shared folder so you can see what we used before.",
        "The headings could be a bit less dominant than in the first draft.",
        "We'll print {n}00 copies to start with.",
        "Could you send an updated timeline so I can coordinate with the printer?",
        "Our web agency is asking whether they can have the icons as SVG.",
        "I spoke to our MD and she's happy with the direction.",
        "We'd like the cover to say a bit more craft and a bit less technology.",
        "I'll get back to you once I've heard from the rest of the team.",
    ],
    rush=["We need this by tomorrow morning, I'm afraid – can you make it?",
          "This is urgent, could you send it ASAP please?",
          "Can you prioritise {project}? We need it by tomorrow at the latest.",
          "We need the files today, ideally before lunch.",
          "Sorry for the short notice, but the client wants to see it on {day}.",
          "Could you look at it right away? It's really urgent.",
          "The deadline has moved up, so it has to be done tonight."],
    discount=["Is there anything you can do on the price? It's a bit above our budget.",
              "We were hoping for a discount since we have several jobs lined up for you.",
              "Could we get {pct}% off if we order {project} and the business cards together?",
              "The price seems high compared to what we've paid before.",
              "Another studio offered to do it for half the price.",
              "Can you do us a special rate this time? Money is tight this quarter."],
    payment=["The invoice is with our accounts team, they'll pay it next week.",
             "Sorry the payment is late – year end has been chaos.",
             "Could we split the payment into three instalments?",
             "We only pay once the whole project is finished, that's company policy.",
             "I never received the invoice, could you resend it?",
             "Our payment terms are 60 days end of month."],
    after_hours=["Could you look at it over the weekend so we have it Monday morning?",
                 "I know it's Friday evening, but could you squeeze in one more change tonight?",
                 "We're working all weekend, so feel free to call on Saturday.",
                 "Could you send it on Sunday? Then I can review it before the meeting.",
                 "Are you free for a call at 9 pm tonight?"],
    scope_creep=["It's just a quick little change, shouldn't take long.",
                 "Could you also do a version for Instagram? It's basically the same thing.",
                 "We'd also like a poster out of it – that should be included in the price.",
                 "Just one more small thing: could you design the newsletter too?",
                 "Can you add three extra pages? They're only small bits."],
    cancellation=["We have to cancel the meeting on {day}, something came up.",
                  "We're putting the project on hold for now.",
                  "Can we move the meeting again? I'm double-booked.",
                  "We've decided to cancel the order for {project}, sorry.",
                  "I can't make today's meeting after all, can we reschedule?"],
    praise=["Thank you so much for the great work, we're really happy with it!",
            "It's brilliant – exactly what we hoped for.",
            "You've nailed our style perfectly, thanks for all your effort.",
            "Everyone in the office loves the new design.",
            "Thanks again for a fantastic collaboration."],
    referral=["I've recommended you to my friend {colleague}, who needs a new website.",
              "My sister runs a small business and would love to work with you.",
              "I passed your details on to our partner agency in Manchester.",
              "One of our suppliers saw the catalogue and asked who designed it – "
              "I gave them your email."],
    owner_hello=["Hi {first},", "Hello {first},", "Dear {first},", "Hi again {first},"],
    owner=["Thanks for your email, I'll look at it tomorrow.",
           "I've prepared two versions of the cover so you can choose.",
           "Do let me know if anything needs adjusting.",
           "I'll need your logo as a vector file, ideally EPS or SVG.",
           "The photo on page three is unfortunately too low-resolution for print.",
           "I suggest a short call once you've seen the draft.",
           "I've adjusted the colours so they also work on uncoated paper.",
           "The copy runs a little longer than planned, so I've trimmed the images slightly.",
           "The files are in the shared folder under today's date.",
           "Here's the revised version of {project}; I've made the changes we discussed.",
           "I can deliver the first draft on {day} next week.",
           "The price for {project} is {amount}, as in the quote.",
           "Attached is the proof for your approval.",
           "I've updated the timeline to match the printer's deadline.",
           "Sounds good, I'll carry on in that direction.",
           "I need the final copy before I can finish the layout.",
           "I'll send the files to the printer as soon as you approve the proof."],
    owner_invoice=["Please find invoice {inv} for {project} attached; payment is due {date}.",
                   "I can see invoice {inv} for {amount} is still unpaid. Could you look into it?",
                   "Friendly reminder: invoice {inv} was due on {date}."],
    subjects=["{project}", "Question about {project}", "Proof: {project}", "Next steps",
              "Quote for {project}", "Meeting about {project}", "Changes to {project}",
              "Copy for {project}", "Timeline for {project}", "Print files"],
    inv_subject=["Invoice {inv}", "Reminder: invoice {inv}"],
    re="Re: ", fw="Fwd: ",
    months=["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    sig_title=["Marketing Manager", "Founder", "Managing Director", "Head of Communications",
               "Project Manager"],
    disclaimer=("This email and any attachments are confidential and intended solely for "
                "the addressee. If you have received it in error, please notify the sender "
                "and delete it. Registered in England and Wales No. 01234567."),
)

WEEKDAY_EN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

NEWSLETTERS = [
    # (display name, local part, domain, lang, automated?)
    ("Designfeed Nyhedsbrev", "nyhedsbrev", "designfeed.dk", "da", False),
    ("Trykkeriet Nord", "no-reply", "trykkerietnord.dk", "da", True),
    ("Typografie Aktuell", "newsletter", "typografie-aktuell.de", "de", False),
    ("Papierhaus Versand", "noreply", "papierhaus-versand.de", "de", True),
    ("Creative Weekly", "hello", "creativeweekly.co.uk", "en", False),
    ("Stock Images", "no-reply", "stockpix.com", "en", True),
    ("Bank Notifikation", "no-reply", "netbank-besked.dk", "da", True),
    ("Skattestyrelsen-kvittering", "no-reply", "kvittering-demo.dk", "da", True),
    ("Kalender", "calendar-notification", "calendar-demo.com", "en", True),
    ("Font Foundry News", "news", "fontfoundry.com", "en", False),
    ("Webhotellet", "support", "webhotellet-demo.dk", "da", True),
    ("Grafik Forum", "forum", "grafikforum.dk", "da", False),
]
NEWS_TEXT = {
    "da": ["Se månedens mest inspirerende projekter fra danske studier.",
           "Din ordre er afsendt og forventes leveret inden for 2-3 hverdage.",
           "Der er en ny besked i din netbank.",
           "Din faktura for webhotel er klar. Beløbet trækkes automatisk.",
           "Nye skrifttyper, kurser og arrangementer i denne uge.",
           "Du modtager denne mail, fordi du er tilmeldt vores nyhedsbrev."],
    "de": ["Die neuesten Trends aus Typografie und Gestaltung.",
           "Ihre Bestellung wurde versandt. Die Sendungsnummer finden Sie unten.",
           "Sie erhalten diese E-Mail, weil Sie unseren Newsletter abonniert haben.",
           "Neue Papiersorten im Sortiment: jetzt 10 % Einführungsrabatt."],
    "en": ["This week's picks from the design community.",
           "Your download is ready. This link expires in 7 days.",
           "Reminder: you have an event tomorrow at 10:00.",
           "You are receiving this email because you subscribed to our newsletter.",
           "New releases from independent type designers."],
}


# ---------------------------------------------------------------- time (Europe/Copenhagen)

def _last_sunday(year, month):
    d = datetime(year, month, 31 if month in (3, 10) else 30)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def cph_offset(local):
    """UTC offset in hours of a naive Copenhagen local time (EU rule: CEST from the last
    Sunday of March 02:00 to the last Sunday of October 03:00)."""
    start = _last_sunday(local.year, 3).replace(hour=2)
    end = _last_sunday(local.year, 10).replace(hour=3)
    return 2 if start <= local < end else 1


def aware(local):
    return local.replace(tzinfo=timezone(timedelta(hours=cph_offset(local))))


def rfc2822_date(local):
    a = aware(local)
    off = a.utcoffset()
    h = int(off.total_seconds()) // 3600
    return (f"{WEEKDAY_EN[a.weekday()]}, {a.day:02d} {P['en']['months'][a.month - 1]} "
            f"{a.year} {a.hour:02d}:{a.minute:02d}:{a.second:02d} +{h:02d}00")


def epoch(local):
    return int(aware(local).timestamp())


# ---------------------------------------------------------------- encoding helpers

def q_word(s, charset):
    """RFC 2047 encoded word(s) for s, folded so no line grows past 76 characters."""
    cs = charset.upper()
    data = s.encode(charset)
    if cs == "UTF-8":
        # B encoding, split on character boundaries: at most 45 bytes per word.
        words, cur = [], b""
        for ch in s:
            b = ch.encode("utf-8")
            if len(cur) + len(b) > 45:
                words.append(cur)
                cur = b""
            cur += b
        words.append(cur)
        return "\n ".join(f"=?UTF-8?B?{base64.b64encode(w).decode()}?=" for w in words)
    out, cur = [], ""
    for byte in data:
        c = chr(byte)
        if c.isalnum() and byte < 128:
            t = c
        elif c == " ":
            t = "_"
        else:
            t = f"={byte:02X}"
        if len(cur) + len(t) > 40:
            out.append(cur)
            cur = ""
        cur += t
    out.append(cur)
    return "\n ".join(f"=?{cs}?Q?{w}?=" for w in out)


def hdr_text(s, charset, raw8=False):
    """A header value: ASCII as is, otherwise encoded words in charset (or raw UTF-8 when
    raw8 — broken but common in the wild)."""
    if all(ord(c) < 128 for c in s):
        return s
    if raw8:
        return s
    try:
        s.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    return q_word(s, charset)


def addr(name, address, charset, raw8=False):
    if not name:
        return address
    if all(ord(c) < 128 for c in name):
        if any(c in name for c in ",.'\"()<>@;:"):
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + f'" <{address}>'
        return f"{name} <{address}>"
    return f"{hdr_text(name, charset, raw8)} <{address}>"


def fold_refs(ids):
    return "\n ".join(ids)


def encode_body(text, charset, cte):
    """(charset, cte, bytes) for text; falls back to UTF-8 where charset cannot hold it."""
    if charset.lower() == "iso-8859-1":
        text = text.replace("€", "EUR")
    try:
        data = text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
        data = text.encode(charset)
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        body = quopri.encodestring(data)
        if not body.endswith(b"\n"):
            body += b"\n"
    else:
        if all(b < 128 for b in data):
            cte = "7bit"
        body = data if data.endswith(b"\n") else data + b"\n"
    return charset, cte, body


def wrap(text, width=72):
    out = []
    for para in text.split("\n"):
        if len(para) <= width or para.startswith(">"):
            out.append(para)
        else:
            out.append(textwrap.fill(para, width, break_long_words=False,
                                     break_on_hyphens=False))
    return "\n".join(out)


# ---------------------------------------------------------------- the world

class Person:
    def __init__(self, first, last, address, lang, mua, title):
        self.first, self.last, self.address = first, last, address
        self.name = f"{first} {last}".strip()
        self.lang, self.mua, self.title = lang, mua, title


class Client:
    def __init__(self, name, domain, lang, persona, weight, disclaimer):
        self.name, self.domain, self.lang = name, domain, lang
        self.persona, self.weight, self.disclaimer = persona, weight, disclaimer
        self.contacts = []


PERSONAS = {
    # persona: (probability that a client mail carries signals, {category: weight},
    #           share of mail sent evenings/weekends)
    "neutral": (0.25, {"praise": 2, "rush": 1, "discount": 0.5, "payment": 0.5,
                       "scope_creep": 0.7, "cancellation": 0.5, "referral": 0.3,
                       "after_hours": 0.3}, 0.10),
    "rusher": (0.65, {"rush": 6, "after_hours": 1, "scope_creep": 1.5, "praise": 0.5}, 0.20),
    "haggler": (0.60, {"discount": 5, "payment": 4, "cancellation": 0.5, "scope_creep": 1},
                0.08),
    "praiser": (0.60, {"praise": 6, "referral": 3}, 0.05),
    "weekend": (0.60, {"after_hours": 6, "rush": 2, "scope_creep": 1}, 0.45),
    "quiet": (0.08, {"praise": 1, "cancellation": 1}, 0.03),
    "creeper": (0.55, {"scope_creep": 5, "rush": 1, "discount": 1}, 0.12),
    "canceller": (0.50, {"cancellation": 5, "payment": 1}, 0.08),
}


def _slug(s):
    tr = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue",
                        "ß": "ss", "é": "e", "'": "", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
    s = s.translate(tr).lower()
    return "".join(c if c.isalnum() else "-" for c in s).strip("-").replace("--", "-")


def _person(rng, lang, domain, used, mua=None, generic=None):
    for _ in range(1000):
        first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
        if generic:
            local, first, last = generic, generic.capitalize(), ""
        else:
            style = rng.random()
            if style < 0.5:
                local = f"{_slug(first)}.{_slug(last)}"
            elif style < 0.8:
                local = _slug(first)
            else:
                local = f"{_slug(first)[0]}{_slug(last)}"
        if domain in ("gmail.com", "hotmail.com", "gmx.de", "web.de", "mail.dk"):
            local += str(rng.randint(1, 99)) if rng.random() < 0.6 else ""
        a = f"{local}@{domain}"
        if a not in used:
            used.add(a)
            break
        generic = None
    if mua is None:
        if domain in ("gmail.com", "hotmail.com"):
            mua = "gmail"
        elif domain in ("gmx.de", "web.de", "mail.dk"):
            mua = "webmail"
        else:
            mua = rng.choice(["apple", "outlook", "outlook", "thunderbird", "gmail"])
    return Person(first, last, a, lang, mua, rng.choice(P[lang]["sig_title"]))


def build_world(rng, senders):
    """Clients (company domains + freemail individuals) and automated senders such that the
    number of distinct sender addresses is exactly max(senders, 20)."""
    senders = max(senders, 20)
    n_auto = min(len(NEWSLETTERS), max(3, senders // 16))
    n_free = max(2, senders // 5)
    n_org_people = senders - n_auto - n_free
    n_orgs = max(3, min(n_org_people, round(senders * 0.3)))
    used_dom, used_addr = set(), set()
    clients = []
    personas = (["neutral"] * 50 + ["rusher"] * 10 + ["haggler"] * 10 + ["praiser"] * 10 +
                ["weekend"] * 6 + ["quiet"] * 6 + ["creeper"] * 5 + ["canceller"] * 3)
    for _ in range(n_orgs):
        lang = rng.choices(["da", "de", "en"], [45, 25, 30])[0]
        for _ in range(1000):
            a, (b, form) = rng.choice(ORG_A[lang]), rng.choice(ORG_B[lang])
            name = f"{a} {b} {form}".strip()
            dom = _slug(f"{a}{'' if rng.random() < 0.5 else '-'}{b}") + rng.choice(TLD[lang])
            if dom not in used_dom:
                break
        used_dom.add(dom)
        c = Client(name, dom, lang, rng.choice(personas), rng.paretovariate(1.2),
                   rng.random() < 0.3)
        clients.append(c)
    # Spread the company people: every org gets one, the rest go to random (busier) orgs.
    for i in range(n_org_people):
        c = clients[i] if i < n_orgs else rng.choices(clients, [c.weight for c in clients])[0]
        generic = None
        if i >= n_orgs and rng.random() < 0.12:
            generic = rng.choice({"da": ["info", "faktura", "kontakt"],
                                  "de": ["info", "buchhaltung", "kontakt"],
                                  "en": ["info", "accounts", "hello"]}[c.lang])
        c.contacts.append(_person(rng, c.lang, c.domain, used_addr, generic=generic))
    for _ in range(n_free):
        lang = rng.choices(["da", "de", "en"], [50, 25, 25])[0]
        p = _person(rng, lang, rng.choice(FREEMAIL[lang]), used_addr)
        c = Client(p.name, None, lang, rng.choice(personas), rng.paretovariate(1.5) * 0.4,
                   False)
        c.contacts.append(p)
        clients.append(c)
    autos = NEWSLETTERS[:n_auto]
    return clients, autos


def demo_world():
    """Five clients in three languages, each with one clear character, plus two
    newsletters."""
    spec = [
        ("Bergmann Logistik GmbH", "bergmann-logistik.de", "de", "rusher", 5,
         [("Jürgen", "Bergmann", "juergen.bergmann", "outlook"),
          ("Katrin", "Köhler", "k.koehler", "outlook")]),
        ("Brightside Media Ltd", "brightside-media.co.uk", "en", "haggler", 4,
         [("Marcus", "O'Brien", "marcus", "gmail"), ("", "", "accounts", "outlook")]),
        ("Nordlys Bryghus ApS", "nordlysbryghus.dk", "da", "praiser", 4,
         [("Søren", "Østergaard", "soeren", "apple"), ("Trine", "Bøgh", "trine", "apple")]),
        ("Kestrel Events", "kestrelevents.com", "en", "weekend", 4,
         [("Chloé", "Hart", "chloe.hart", "gmail")]),
        ("Skovgaard Tandklinik", "skovgaard-tand.dk", "da", "quiet", 1,
         [("Birgitte", "Skovgaard", "birgitte", "thunderbird")]),
    ]
    clients = []
    for name, dom, lang, persona, w, people in spec:
        c = Client(name, dom, lang, persona, w, lang == "de")
        for first, last, local, mua in people:
            if not first:
                first = "Accounts"
            p = Person(first, last, f"{local}@{dom}", lang, mua, P[lang]["sig_title"][0])
            c.contacts.append(p)
        clients.append(c)
    return clients, [NEWSLETTERS[0], NEWSLETTERS[4]]


# ---------------------------------------------------------------- composition

class Gen:
    def __init__(self, rng, maildir, start, days, attach_share):
        self.rng, self.maildir = rng, maildir
        self.start, self.days, self.attach_share = start, days, attach_share
        self.n = 0
        self.inv = 1000
        self.counts = {"INBOX": 0, "Sent": 0, "attachments": 0, "alternative": 0,
                       "automated": 0, "bytes": 0}
        self.senders = set()

    # -- text

    def fill(self, s, lang, first, me, colleague, when):
        rng = self.rng
        L = P[lang]
        due = when + timedelta(days=rng.choice([7, 10, 14, 30]))
        if lang == "da":
            date = f"{due.day}. {L['months'][due.month - 1].rstrip('.')}"
        elif lang == "de":
            date = f"{due.day:02d}.{due.month:02d}."
        else:
            date = f"{due.day} {L['months'][due.month - 1]}"
        vals = dict(first=first, me=me, colleague=colleague, project=rng.choice(L["projects"]),
                    day=rng.choice(L["days"]), date=date,
                    time=f"{rng.randint(8, 16)}{':' if lang != 'da' else '.'}"
                         f"{rng.choice(['00', '15', '30', '45'])}",
                    amount=rng.choice(L["money"]).format(n=rng.randint(2, 48),
                                                         k=rng.randint(0, 9)),
                    inv=self.inv, n=rng.randint(2, 9), pct=rng.choice([10, 15, 20, 25]),
                    company="")
        return s.format(**vals)

    def compose(self, lang, persona, first, me, colleague, when, owner=False, invoice=False,
                signals=None):
        """(plain text of the author's new words, list of signal categories used)."""
        rng = self.rng
        L = P[lang]
        used = []
        paras = []
        n_paras = rng.choices([1, 2, 3, 4, 5, 6, 8, 11], [5, 8, 14, 18, 18, 15, 13, 9])[0]
        if persona == "quiet":
            n_paras = min(n_paras, 2)
        if owner:
            n_paras = min(n_paras, 4)
        signal_sentences = []
        if invoice:
            signal_sentences.append(rng.choice(L["owner_invoice"]))
            used.append("invoice")
        elif not owner:
            p_sig, weights, _ = PERSONAS[persona]
            k = 0
            while k < 3 and rng.random() < (p_sig if k == 0 else p_sig / 2):
                cat = rng.choices(list(weights), list(weights.values()))[0]
                signal_sentences.append(rng.choice(L[cat]))
                used.append(cat)
                k += 1
        bank = L["owner"] if owner else L["neutral"]
        for i in range(n_paras):
            sents = rng.sample(bank, rng.randint(3, 7))
            paras.append(sents)
        for s in signal_sentences:
            para = paras[rng.randrange(len(paras))]
            para.insert(rng.randint(0, len(para)), s)
        text = [self.fill(rng.choice(L["owner_hello" if owner else "hello"]), lang, first, me, colleague, when), ""]
        for sents in paras:
            text.append(" ".join(self.fill(s, lang, first, me, colleague, when) for s in sents))
            text.append("")
        text.append(self.fill(rng.choice(L["bye"]), lang, first, me, colleague, when))
        return "\n".join(text), used

    def signature(self, person, client):
        rng = self.rng
        if person.address == OWNER_ADDR:
            return ("-- \nMette Holm\nGrafisk designer · Studio Holm\n"
                    "Vesterbrogade 12, 1620 København V\n+45 31 22 44 58 · studio.dk")
        if client.domain is None:
            return "" if rng.random() < 0.6 else "\n\nSendt fra min iPhone" \
                if person.lang == "da" else "\n\nSent from my phone"
        lines = [f"-- \n{person.name}", person.title, client.name,
                 f"Tel. +{dict(da='45', de='49', en='44')[person.lang]} {rng.randint(10, 99)} "
                 f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                 f"www.{client.domain}"]
        sig = "\n".join(lines)
        if client.disclaimer:
            sig += "\n\n" + P[client.lang]["disclaimer"]
        return sig

    def quote_header(self, lang, style, prev):
        """The line(s) a mail program writes above quoted text, in the writer's language."""
        t, who = prev["date"], addr(prev["from_name"], prev["from_addr"], "utf-8", True)
        if style == "outlook":
            head = {"da": ("-----Oprindelig meddelelse-----", "Fra", "Sendt", "Til", "Emne"),
                    "de": ("-----Ursprüngliche Nachricht-----", "Von", "Gesendet", "An",
                           "Betreff"),
                    "en": ("-----Original Message-----", "From", "Sent", "To", "Subject")}[lang]
            return (f"{head[0]}\n{head[1]}: {who}\n{head[2]}: {t.day}.{t.month}.{t.year} "
                    f"{t.hour:02d}:{t.minute:02d}\n{head[3]}: {prev['to']}\n"
                    f"{head[4]}: {prev['subject']}")
        if lang == "da":
            return (f"Den {t.day}. {P['da']['months'][t.month - 1]} {t.year} kl. "
                    f"{t.hour:02d}.{t.minute:02d} skrev {who}:")
        if lang == "de":
            return (f"Am {t.day:02d}.{t.month:02d}.{t.year} um {t.hour:02d}:{t.minute:02d} "
                    f"schrieb {who}:")
        return (f"On {WEEKDAY_EN[t.weekday()]}, {t.day} {P['en']['months'][t.month - 1]} "
                f"{t.year} at {t.hour:02d}:{t.minute:02d}, {who} wrote:")

    # -- MIME

    def text_part(self, text, charset, cte, flowed=False):
        cs, cte, body = encode_body(text if cte in ("base64", "quoted-printable") and
                                    self.rng.random() < 0.5 else wrap(text), charset, cte)
        ct = f'text/plain; charset="{cs}"' if self.rng.random() < 0.5 else \
            f"text/plain; charset={cs}"
        if flowed and cte in ("7bit", "8bit"):
            ct += "; format=flowed"
        return f"Content-Type: {ct}\nContent-Transfer-Encoding: {cte}\n\n".encode() + body

    def html_part(self, text, quoted_html, charset, cte):
        paras = text.split("\n\n")
        body = "".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paras)
        doc = (f'<html><head><meta http-equiv="Content-Type" content="text/html; '
               f'charset={charset}"></head>\n<body><div style="font-family: Calibri, Arial, '
               f'sans-serif; font-size: 11pt; color: #1f1f1f">\n{body}'
               f'{quoted_html}</div></body></html>\n')
        cs, cte, data = encode_body(doc, charset, "quoted-printable" if cte in ("8bit", "7bit")
                                    else cte)
        return (f'Content-Type: text/html; charset="{cs}"\nContent-Transfer-Encoding: '
                f'{cte}\n\n').encode() + data

    def boundary(self):
        return f"----=_Part_{self.rng.getrandbits(48):012x}.{self.rng.randint(1000, 9999)}"

    def attachment(self, lang):
        rng = self.rng
        size = rng.randint(50_000, 200_000)
        if rng.random() < 0.5:
            name = rng.choice({"da": ["Korrektur_v{n}.pdf", "Tilbud_{n}.pdf", "Skitser_æøå.pdf"],
                               "de": ["Korrektur_v{n}.pdf", "Angebot_{n}.pdf", "Entwürfe.pdf"],
                               "en": ["Proof_v{n}.pdf", "Quote_{n}.pdf", "Sketches.pdf"]}[lang])
            ctype, data = "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(size)
        else:
            name = rng.choice(["IMG_{n}.jpg", "foto_{n}.jpeg", "moodboard_{n}.jpg"])
            ctype, data = "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(size)
        name = name.format(n=rng.randint(1, 9999))
        if all(ord(c) < 128 for c in name):
            disp = f'attachment; filename="{name}"'
            ct = f'{ctype}; name="{name}"'
        else:
            enc = "".join(c if c.isalnum() and ord(c) < 128 or c in "._-" else
                          "".join(f"%{b:02X}" for b in c.encode()) for c in name)
            disp = f"attachment;\n filename*=UTF-8''{enc}"
            ct = f"{ctype};\n name=\"{q_word(name, 'utf-8')}\""
        self.counts["attachments"] += 1
        return (f"Content-Type: {ct}\nContent-Transfer-Encoding: base64\n"
                f"Content-Disposition: {disp}\n\n").encode() + base64.encodebytes(data)

    def multipart(self, subtype, parts):
        b = self.boundary()
        out = [f'Content-Type: multipart/{subtype};\n boundary="{b}"\n\n'.encode()]
        if self.rng.random() < 0.3:
            out.append(b"This is a multi-part message in MIME format.\n")
        for p in parts:
            out.append(f"\n--{b}\n".encode() + p)
        out.append(f"\n--{b}--\n".encode())
        return b"".join(out)

    def write(self, folder, when, headers, body, flags="S"):
        raw = headers.encode("utf-8") + body
        self.n += 1
        size, vsize = len(raw), len(raw) + raw.count(b"\n")
        sub = "cur" if folder == "INBOX" else os.path.join(".Sent", "cur")
        name = f"{epoch(when)}.M{self.n}P{PID}.gen,S={size},W={vsize}:2,{flags}"
        path = os.path.join(self.maildir, sub, name)
        with open(path, "wb") as f:
            f.write(raw)
        t = epoch(when)
        os.utime(path, (t, t))
        self.counts[folder] += 1
        self.counts["bytes"] += size

    def msgid(self, domain):
        return f"<{self.rng.getrandbits(64):016x}.{self.n + 1}@{domain}>"

    # -- one message

    def message(self, folder, when, sender, client, to_person, lang, persona, prev=None,
                invoice=False, cc=None):
        """Writes one client conversation message; returns its record for a reply."""
        rng = self.rng
        owner = sender.address == OWNER_ADDR
        mua = MUAS[sender.mua]
        charset, cte = rng.choice(mua["charsets"])
        colleague = rng.choice(FIRST[lang])
        text, cats = self.compose(lang, persona, to_person.first if not owner else
                                  (to_person.first or to_person.name), sender.first,
                                  colleague, when, owner=owner, invoice=invoice)
        sig = self.signature(sender, client)
        if sig:
            text += "\n\n" + sig if sig.startswith("-- ") else sig
        quoted_html = ""
        L = P[lang]
        if prev:
            subject = prev["subject"]
            if not subject.lower().startswith(("re:", "sv:", "aw:")):
                subject = L["re"] + subject
            qtext = prev["text"]
            if len(qtext) > 6000:
                qtext = qtext[:6000].rsplit("\n", 1)[0] + "\n[...]"
            if mua["quote"] == "outlook":
                head = self.quote_header(lang, "outlook", prev)
                text += "\n\n" + head + "\n\n" + qtext
                quoted_html = ("<hr><div>" + html.escape(head).replace("\n", "<br>") +
                               "</div><div>" + html.escape(qtext).replace("\n", "<br>\n") +
                               "</div>")
            else:
                head = self.quote_header(lang, "inline", prev)
                text += "\n\n" + head + "\n" + "\n".join(
                    ("> " + ln) if ln and not ln.startswith(">") else (">" + ln)
                    for ln in qtext.split("\n"))
                quoted_html = (f"<div>{html.escape(head)}</div><blockquote type=\"cite\" "
                               f"style=\"border-left: 2px solid #ccc; padding-left: 8px\">"
                               + html.escape(qtext).replace("\n", "<br>\n") + "</blockquote>")
        else:
            subject = self.fill(rng.choice(L["inv_subject"] if invoice else L["subjects"]),
                                lang, "", "", colleague, when)
            subject = subject[0].upper() + subject[1:]
        if invoice:
            self.inv += 1

        alt = rng.random() < (0.3 if sender.mua in ("gmail", "outlook", "apple") else 0.1) \
            and sender.mua != "thunderbird"
        # Automated mail (10 %) never carries attachments: scale so the whole box meets the share.
        attach = rng.random() < min(1.0, self.attach_share / 0.9)
        body_part = self.text_part(text, charset, cte, flowed=sender.mua == "thunderbird")
        if alt:
            body_part = self.multipart("alternative", [
                body_part, self.html_part(text.split("\n-- \n")[0], quoted_html, charset, cte)])
            self.counts["alternative"] += 1
        if attach:
            body = self.multipart("mixed", [body_part, self.attachment(lang)])
        else:
            body = body_part
        # body starts with its own Content-Type (and CTE) lines: they end the header block.
        raw8 = rng.random() < 0.02 and not owner
        mid = self.msgid("studio.dk" if owner else (client.domain or sender.address.split("@")[1]))
        h = []
        if not owner:
            h.append(f"Return-Path: <{sender.address}>")
            h.append(f"Received: from mail.{sender.address.split('@')[1]} "
                     f"(mail.{sender.address.split('@')[1]} [192.0.2.{rng.randint(1, 254)}])\n"
                     f"\tby mx.studio.dk (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n"
                     f"\tfor <{OWNER_ADDR}>; {rfc2822_date(when)}")
        h.append(f"Date: {rfc2822_date(when)}")
        h.append(f"From: {addr(sender.name, sender.address, charset, raw8)}")
        to_addr = addr(to_person.name, to_person.address, charset, raw8)
        h.append(f"To: {to_addr}")
        if cc:
            h.append(f"Cc: {addr(cc.name, cc.address, charset, raw8)}")
        h.append(f"Subject: {hdr_text(subject, charset, raw8)}")
        h.append(f"Message-ID: {mid}")
        if prev:
            refs = (prev["refs"] + [prev["mid"]])[-10:]
            h.append(f"In-Reply-To: {prev['mid']}")
            h.append(f"References: {fold_refs(refs)}")
        else:
            refs = []
        if mua.get("xm"):
            h.append(f"X-Mailer: {mua['xm']}")
        if mua.get("ua"):
            h.append(f"User-Agent: {mua['ua']}")
        if sender.mua == "outlook":
            h.append(f"Thread-Index: {base64.b64encode(rng.randbytes(22)).decode()}")
            h.append(f"Content-Language: {dict(da='da-DK', de='de-DE', en='en-GB')[lang]}")
        h.append("MIME-Version: 1.0")
        headers = "\n".join(h) + "\n"
        self.write(folder, when, headers, body)
        self.senders.add(sender.address)
        # The plain text the next reply quotes (own words, signature, earlier quote).
        return dict(mid=mid, refs=refs, subject=subject, text=text, date=when,
                    from_name=sender.name, from_addr=sender.address, to=to_addr, cats=cats)

    def automated(self, when, auto):
        rng = self.rng
        name, local, dom, lang, is_auto = auto
        sender = f"{local}@{dom}"
        charset = rng.choice(["utf-8", "utf-8", "iso-8859-1", "windows-1252"])
        paras = [rng.choice(NEWS_TEXT[lang]) for _ in range(rng.randint(3, 9))]
        # Newsletters carry long filler paragraphs; notifications are short.
        if not is_auto:
            paras += [" ".join(self.fill(s, lang, "", "", rng.choice(FIRST[lang]), when)
                               for s in rng.sample(P[lang]["neutral"], 4))
                      for _ in range(rng.randint(2, 6))]
        text = "\n\n".join(paras)
        subject = rng.choice(NEWS_TEXT[lang])[:60].rstrip(".")
        unsub = f"https://{dom}/unsubscribe?u={rng.getrandbits(48):012x}"
        rows = "".join(f'<tr><td style="padding:12px;font-family:Helvetica,Arial">'
                       f'{html.escape(p)}</td></tr>\n' for p in paras)
        doc = (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>'
               f'{html.escape(subject)}</title><style>td{{color:#333}}</style></head><body>'
               f'<table width="600" cellpadding="0" cellspacing="0" align="center">\n{rows}'
               f'<tr><td><a href="{unsub}">Unsubscribe</a></td></tr></table>'
               f'<img src="https://{dom}/o/{rng.getrandbits(32):08x}.gif" width="1" '
               f'height="1" alt=""></body></html>\n')
        cs, cte, data = encode_body(doc, charset, rng.choice(["quoted-printable", "base64"]))
        html_part = (f'Content-Type: text/html; charset="{cs}"\nContent-Transfer-Encoding: '
                     f'{cte}\n\n').encode() + data
        if rng.random() < 0.8:
            body = self.multipart("alternative", [
                self.text_part(text + f"\n\n{unsub}\n", charset, "quoted-printable"),
                html_part])
            self.counts["alternative"] += 1
        else:
            body = html_part
        h = [f"Return-Path: <bounce-{rng.getrandbits(32):08x}@{dom}>",
             f"Date: {rfc2822_date(when)}",
             f"From: {addr(name, sender, charset)}",
             f"To: {OWNER_ADDR}",
             f"Subject: {hdr_text(subject, charset)}",
             f"Message-ID: {self.msgid(dom)}"]
        if is_auto:
            h.append("Auto-Submitted: auto-generated")
            h.append("X-Auto-Response-Suppress: All")
        else:
            h.append(f"List-Id: {name} <news.{dom}>")
            h.append(f"List-Unsubscribe: <mailto:unsubscribe@{dom}>, <{unsub}>")
            h.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
            h.append("Precedence: bulk")
        h.append("MIME-Version: 1.0")
        self.write("INBOX", when, "\n".join(h) + "\n", body)
        self.counts["automated"] += 1
        self.senders.add(sender)

    # -- time

    def pick_time(self, off_hours_share):
        """A thread start: mostly working hours on weekdays, some evenings and weekends."""
        rng = self.rng
        while True:
            day = self.start + timedelta(days=rng.randrange(self.days))
            off = rng.random() < off_hours_share
            if day.weekday() >= 5 and not off:
                continue
            if off:
                hour = rng.choice([6, 18, 19, 20, 21, 22, 23]) if rng.random() < 0.7 or \
                    day.weekday() < 5 else rng.randint(9, 17)
            else:
                hour = rng.choices(range(8, 17), [6, 9, 10, 9, 6, 8, 9, 8, 6])[0]
            return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))

    def later(self, t, off_hours_ok):
        rng = self.rng
        t = t + timedelta(minutes=rng.choice([rng.randint(4, 90), rng.randint(60, 600),
                                               rng.randint(600, 3000)]))
        if not off_hours_ok and (t.hour < 8 or t.hour >= 17 or t.weekday() >= 5):
            while t.hour >= 17 or t.weekday() >= 5:
                t = (t + timedelta(days=1)).replace(hour=8)
            if t.hour < 8:
                t = t.replace(hour=rng.randint(8, 10), minute=rng.randrange(60))
        return t


def _prepare(maildir):
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    for sub in ("cur", ".Sent/cur"):
        if os.listdir(os.path.join(maildir, sub)):
            raise FileExistsError(f"{os.path.join(maildir, sub)} is not empty")
    with open(os.path.join(maildir, ".Sent", "maildirfolder"), "w"):
        pass


def generate(maildir, seed=42, messages=20000, senders=200, attach_share=0.10, demo=False):
    """Writes the mailbox into maildir (created; cur/ must be empty). Returns counts:
    INBOX, Sent, attachments, alternative, automated, bytes, senders, clients."""
    import random
    rng = random.Random(seed)
    _prepare(maildir)
    if demo:
        clients, autos = demo_world()
        start, days = datetime(2025, 1, 2), 350
    else:
        clients, autos = build_world(rng, senders)
        start, days = datetime(2024, 1, 1), 730
    g = Gen(rng, maildir, start, days, attach_share)
    owner = Person("Mette", "Holm", OWNER_ADDR, "da", "apple", "")
    n_auto = round(messages * 0.10)
    # Automated mail first (it has no threads), then conversations until the count is met.
    for i in range(n_auto):
        auto = autos[i % len(autos)] if i < len(autos) else rng.choice(autos)
        g.automated(g.pick_time(0.3), auto)
    remaining = messages - n_auto
    # Every contact starts at least one conversation, so every sender appears.
    contacts = [(c, p) for c in clients for p in c.contacts]
    weights = [c.weight / len(c.contacts) for c, _ in contacts]
    first_round = list(contacts)
    while remaining > 0:
        first_round_pick = bool(first_round)
        if first_round:
            client, person = first_round.pop(0)
        else:
            client, person = rng.choices(contacts, weights)[0]
        persona = client.persona
        off_share = PERSONAS[persona][2]
        t = g.pick_time(off_share)
        invoice = not first_round_pick and \
            rng.random() < (0.12 if persona in ("haggler", "canceller") else 0.03)
        # Conversation: client, owner, client, owner ... (invoice threads start with owner).
        length = rng.choices([1, 2, 3, 4, 5], [60, 26, 9, 4, 1])[0]
        if persona == "quiet":
            length = min(length, 2)
        length = min(length, remaining)
        prev = None
        from_owner = invoice
        cc = None
        if len(client.contacts) > 1 and rng.random() < 0.15:
            cc = rng.choice([p for p in client.contacts if p is not person])
        for k in range(length):
            if from_owner:
                # The owner answers fast and late for demanding clients.
                late_ok = persona in ("rusher", "weekend") and rng.random() < 0.6
                if k:
                    t = g.later(t, late_ok)
                prev = g.message("Sent", t, owner, client, person, client.lang, persona, prev,
                                 invoice=invoice and k == 0, cc=cc)
            else:
                if k:
                    t = g.later(t, rng.random() < off_share * 2)
                prev = g.message("INBOX", t, person, client, owner, client.lang, persona, prev,
                                 cc=cc)
            from_owner = not from_owner
            remaining -= 1
    out = dict(g.counts)
    out["senders"] = len(g.senders - {OWNER_ADDR})
    out["clients"] = len(clients)
    out["messages"] = out["INBOX"] + out["Sent"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--messages", type=int, default=None)
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--attach-share", type=float, default=0.10)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--demo", action="store_true",
                    help="a year of mail with five clients of distinct character")
    a = ap.parse_args(argv)
    n = a.messages if a.messages is not None else (300 if a.demo else 20000)
    if n < 1 or not 0 <= a.attach_share <= 1:
        ap.error("--messages must be positive and --attach-share in [0, 1]")
    c = generate(a.maildir, a.seed, n, a.senders, a.attach_share, a.demo)
    print(f"genmail: {c['messages']} messages ({c['INBOX']} INBOX, {c['Sent']} Sent), "
          f"{c['senders']} senders, {c['clients']} clients, {c['automated']} automated, "
          f"{c['alternative']} multipart/alternative, {c['attachments']} attachments, "
          f"{c['bytes'] / 1e6:.1f} MB in {a.maildir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
