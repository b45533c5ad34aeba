"""The demo newsroom's articles (used by `manage.py demo_data`): invented, but plausible.

Each: slug, title, section, author, summary, body (HTML), and optionally member
notes and documents (title, url), the extras members see under the article.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DemoArticle:
    slug: str
    title: str
    section: str
    author: str
    summary: str
    body: str
    member_notes: str = ""
    documents: list[tuple[str, str]] = field(default_factory=list)


DOCS = "https://news.example.org/documents"

ARTICLES = [
    DemoArticle(
        slug="frontline-dispatch-winter",
        title="Dispatch from the front line as winter sets in",
        section="War",
        author="Marta Hnatiuk",
        summary="In the trenches east of the river, soldiers prepare for the third winter "
        "with wood stoves, donated generators and very little sleep.",
        body="""
<p>The first frost came early this year. By six in the morning the mud in the trench had
set hard enough to walk on, and the men of the second company were already cutting wood
for the stoves that heat their dugouts.</p>
<p>"Winter is not our enemy," said the company's sergeant, a former schoolteacher who asked
that we use only his call sign, Professor. "It slows everybody down. The problem is that
the drones do not feel the cold."</p>
<h2>Generators, stoves and patience</h2>
<p>Most of the equipment that keeps the position warm was not issued by the army. The
generators came from a volunteer group in Lviv, the stoves were welded in a village garage,
and the thermal blankets arrived in a parcel with a child's drawing taped to the lid.</p>
<blockquote><p>We count days by deliveries. A good week is one where the fuel comes on
Tuesday and nobody is hurt bringing it.</p></blockquote>
<p>Rotations are longer than they were last year. Some of the soldiers we met had not been
home for five months. They asked us, more than once, to write that they are tired but not
broken.</p>
""",
    ),
    DemoArticle(
        slug="energy-grid-repairs",
        title="How engineers keep the lights on after every strike",
        section="Economy",
        author="Andriy Melnyk",
        summary="Repair crews restore substations within hours of an attack. We spent a week "
        "with one of them, and counted what each repair costs.",
        body="""
<p>The call came at 3:40 in the morning: a substation on the edge of the city had been hit,
and forty thousand homes were dark. By 4:15 the repair crew was on the road.</p>
<p>Oleh, who has led the crew for eleven years, keeps a notebook of every repair since the
strikes began. There are 214 entries. The fastest took two hours; the longest, nine days.</p>
<h2>Spare parts are the real front line</h2>
<p>Transformers are the bottleneck. A large one takes months to build and weighs as much as
a tram. Utilities now share a pool of spares and move them across the country at night.</p>
<ul>
  <li>Average repair after a strike: 14 hours</li>
  <li>Share of equipment donated by foreign utilities: about a third</li>
  <li>Crew members injured on call-outs this year: 6</li>
</ul>
<p>"People see the lights come back and think it is magic," Oleh said. "It is overtime,
mostly."</p>
""",
    ),
    DemoArticle(
        slug="investigation-procurement",
        title="Investigation: the procurement deals nobody could explain",
        section="Investigations",
        author="Iryna Bondar and Taras Lysenko",
        summary="Three regional tenders, one winning supplier, and prices up to 40% above the "
        "market. Our six-month investigation follows the money.",
        body="""
<p>Between March and September, three regional administrations bought generators, field
kitchens and construction materials worth 212 million hryvnias. In each tender, the same
company won, and in each, its price was well above what others charged for the same goods.</p>
<h2>One address, four companies</h2>
<p>Company registers show that the winning supplier shares an office, a phone number and an
accountant with three firms that also bid in the tenders and lost. Competition law experts we
consulted said the pattern is typical of bid rigging.</p>
<p>We compared 312 line items with public price lists and earlier contracts. On average the
supplier charged 27% more; for generators, up to 40% more.</p>
<h2>What the officials say</h2>
<p>Two of the three administrations said the purchases were urgent and the prices justified
by delivery times. The third did not answer our questions. The supplier's director said his
company "has nothing to do with" the other bidders.</p>
<p>The regional prosecutor's office told us it has opened a preliminary inquiry.</p>
""",
        member_notes="""
<p>This investigation started with a reader's email: a photograph of a price tag on a
generator that did not match the tender documents. It took us six months, two freedom of
information appeals and one very long spreadsheet to get from that photo to this story.</p>
<p>Below are the main documents we relied on. The spreadsheet includes every line item we
compared, with the sources for each market price.</p>
""",
        documents=[
            ("Tender documents, March to September (PDF)", f"{DOCS}/procurement/tenders.pdf"),
            (
                "Our price comparison, 312 line items (spreadsheet)",
                f"{DOCS}/procurement/prices.csv",
            ),
            ("Company register extracts (PDF)", f"{DOCS}/procurement/registers.pdf"),
        ],
    ),
    DemoArticle(
        slug="explainer-reconstruction-fund",
        title="Explainer: who pays for reconstruction, and how",
        section="Explainers",
        author="Sofia Kravets",
        summary="Grants, loans, frozen assets and local budgets: a plain guide to the money "
        "behind rebuilding homes, bridges and schools.",
        body="""
<p>Estimates of the cost of rebuilding change every few months, and every one of them is
larger than the last. But where does the money actually come from, and who decides how it is
spent?</p>
<h2>Four sources of money</h2>
<ol>
  <li><strong>Foreign grants</strong>, mostly from the EU and individual governments, which
  do not have to be repaid.</li>
  <li><strong>Loans</strong> from international banks, usually on long terms.</li>
  <li><strong>Proceeds of frozen assets</strong>, a small but growing share.</li>
  <li><strong>Local and national budgets</strong>, which pay for the smaller repairs that
  rarely make headlines.</li>
</ol>
<h2>Who decides</h2>
<p>Large projects go through a national agency and a public register of reconstruction
projects, where anyone can check a project's budget and contractor. Small repairs are decided
by city councils, with much less oversight.</p>
<p>In our next explainer: how to read the register, and what to do if a project near you
looks stalled.</p>
""",
    ),
    DemoArticle(
        slug="school-shelters",
        title="The schools that moved underground",
        section="Society",
        author="Natalia Shevchuk",
        summary="In frontline cities, lessons now happen in basements and metro stations. "
        "Teachers and pupils describe a school day below ground.",
        body="""
<p>The first bell rings at 8:30, as it always has. The difference is that the pupils of
School No. 134 walk down four flights of stairs to reach their classroom, in a former
storage basement fitted with lights, ventilation and bright yellow desks.</p>
<p>"At first the children were afraid of the dark corridors," said the head teacher. "Now
they decorate them. The younger ones painted a sky on the ceiling."</p>
<h2>Learning in shifts</h2>
<p>Underground space is limited, so classes take turns: younger pupils in the morning, older
ones after lunch, and online lessons in between. Teachers say attendance is higher than it
was when lessons were only online.</p>
<p>The city plans to open six more underground schools next year, paid for by a mix of
donor grants and the city budget.</p>
""",
    ),
    DemoArticle(
        slug="grain-corridor-ports",
        title="Inside the ports that keep the grain moving",
        section="Economy",
        author="Andriy Melnyk",
        summary="Ships still load grain under the threat of missiles. Dock workers, insurers "
        "and farmers explain how the export route survives.",
        body="""
<p>At the grain terminal, the conveyor belts run through the night. A bulk carrier bound for
North Africa takes on 40,000 tonnes of wheat, and the crane operators work with their
helmets on.</p>
<h2>Insurance is the invisible cargo</h2>
<p>Every voyage depends on war-risk insurance, and its price follows the news. After a strike
on the port last spring, premiums doubled within a week. A state-backed insurance scheme has
since brought them down.</p>
<p>For farmers inland, the port's survival decides whether this year's harvest is sold or
left to rot in storage. "Every ship that leaves is money for seed next year," said a grain
farmer from the south.</p>
""",
    ),
    DemoArticle(
        slug="veterans-return-work",
        title="Coming home: veterans and the jobs waiting for them",
        section="Society",
        author="Dmytro Savchenko",
        summary="Employers say they want to hire veterans; veterans say the offers do not fit. "
        "We talked to both sides.",
        body="""
<p>After two years in the army, Serhiy came home to find his old job gone: the factory had
moved west. The job centre offered him a security guard position. He took a course in
welding instead.</p>
<p>His story is common. Surveys show most employers say they are ready to hire veterans, but
few have adapted workplaces or schedules for people recovering from injuries or trauma.</p>
<h2>What works</h2>
<ul>
  <li>Paid retraining with a guaranteed job at the end</li>
  <li>Mentors who are veterans themselves</li>
  <li>Flexible hours during the first months</li>
</ul>
<p>A small number of companies have built programmes like these. Their managers say the
hardest part was not the cost, but learning to ask veterans what they actually need.</p>
""",
    ),
    DemoArticle(
        slug="local-councils-budgets",
        title="Where your city's budget went: we read 40 council reports",
        section="Investigations",
        author="Iryna Bondar",
        summary="Paving, festivals and a very expensive fountain: what city councils spent on "
        "while shelters went unrepaired.",
        body="""
<p>We read the annual budget reports of 40 city councils and compared what they promised with
what they spent. Most kept their promises on shelters, schools and water. Some did not.</p>
<h2>The fountain</h2>
<p>One council spent more on renovating a central fountain than on repairing all of its
public shelters combined. The mayor's office said the fountain contract was signed before
the war and could not be cancelled without penalties.</p>
<p>Elsewhere, paving contracts rose sharply in the months before local elections were
expected, then fell again when the elections were postponed.</p>
<p>Our searchable table of all 40 budgets is available to members below.</p>
""",
        member_notes="""
<p>Reading 40 budget reports meant reading about 6,000 pages, most of them scanned tables.
Three of us spent a month typing figures into a spreadsheet; a reader who is an accountant
checked our sums for free. Thank you, Oksana.</p>
""",
        documents=[("All 40 council budgets compared (spreadsheet)", f"{DOCS}/budgets/all.csv")],
    ),
    DemoArticle(
        slug="mine-clearance-farmland",
        title="Clearing the fields: the slow work of demining farmland",
        section="Environment",
        author="Oksana Lytvyn",
        summary="A tenth of the country's farmland may hold mines or unexploded shells. "
        "Deminers clear a few hectares a day.",
        body="""
<p>The deminers walk in a straight line, one metre apart, sweeping the ground with detectors.
On a good day, a team of eight clears two hectares. The field in front of them is 140.</p>
<p>Farmers cannot wait that long. Some plough anyway; every month, tractors hit mines.
Machine-based clearance is faster, but the machines are few and expensive.</p>
<h2>Satellites and drones</h2>
<p>New mapping tools help decide where to start. Drone surveys and satellite images flag
craters and disturbed soil, so teams can clear the most dangerous fields first and release
safe land to farmers sooner.</p>
<p>At the current pace, experts say, clearing all contaminated land could take decades.</p>
""",
    ),
    DemoArticle(
        slug="displaced-families-housing",
        title="Two years in a dormitory: the housing promise for displaced families",
        section="Society",
        author="Natalia Shevchuk",
        summary="Thousands of families still live in temporary shelters. The promised "
        "housing programme has delivered a fraction of its homes.",
        body="""
<p>Halyna and her two sons have lived in one room of a former student dormitory for two
years. They share a kitchen with eleven other families. "Temporary," she says, "is the
longest word I know."</p>
<p>A national programme promised compensation certificates and new flats for displaced
families. So far, far fewer certificates have been issued than families registered, and many
of those issued could not be used: there were no flats to buy in the cities where families
now work.</p>
<h2>What would help</h2>
<p>Housing experts point to rental support and the renovation of empty state buildings as
faster options than new construction. Two cities are piloting both.</p>
""",
    ),
    DemoArticle(
        slug="culture-frontline-theatre",
        title="A theatre that never closed",
        section="Culture",
        author="Yulia Marchenko",
        summary="Forty kilometres from the front, a drama theatre plays to full houses, in "
        "its basement, with the actors' children selling tickets.",
        body="""
<p>The main stage has been closed since a blast wave shattered the theatre's windows. So the
company moved downstairs, to a rehearsal room that seats sixty, and kept playing.</p>
<p>Tonight's performance is a comedy. The audience laughs loudly, and when the air-raid
alert sounds, nobody leaves: they are already in the shelter.</p>
<blockquote><p>People do not come to forget the war. They come to remember that they are
more than the war.</p></blockquote>
<p>The theatre's director says ticket sales cover the electricity bill and little else.
Actors are paid by a foundation and by a box at the entrance, marked simply "For the
actors".</p>
""",
    ),
    DemoArticle(
        slug="newsroom-letter-readers",
        title="A letter to our readers: what your support paid for this year",
        section="From the newsroom",
        author="The editors",
        summary="Your memberships and gifts paid for 14 investigations, two new reporters and "
        "a year with no paywall. Here is where the money went.",
        body="""
<p>Dear readers,</p>
<p>This year, more than half of our budget came from you: monthly members, yearly members,
and thousands of people who gave once after reading a story that mattered to them.</p>
<h2>What your money did</h2>
<ul>
  <li>14 investigations, three of which led to official inquiries</li>
  <li>Two new reporters in the east and the south</li>
  <li>Safety equipment and training for everyone who works near the front</li>
  <li>Every article free to read, for everyone, with no paywall</li>
</ul>
<p>We publish our full accounts every year. Thank you for making this work possible.</p>
""",
        member_notes="""
<p>Members asked us for more detail on our spending, so this year we are sharing the full
budget breakdown first with you, before it goes into our annual report.</p>
""",
        documents=[("Our budget for the year, in detail (PDF)", f"{DOCS}/annual/budget.pdf")],
    ),
]
